#include "models/hllm_blocks.h"

#include <ATen/ATen.h>

#include "common/error.h"
#include "models/activation_keys.h"
#include "models/llama_ops.h"
#include "models/model_plan.h"

namespace hllm::models {
namespace {

int64_t numel_of(const std::vector<std::pair<std::string, at::Tensor>>& parameters) {
  int64_t n = 0;
  for (const auto& [name, t] : parameters) n += t.numel();
  return n;
}

const at::Tensor& need(const Activations& a, const std::string& key, const std::string& block) {
  const auto it = a.find(key);
  HLLM_ASSERT(it != a.end(), "block '", block, "' needs activation '", key, "', which no earlier block wrote");
  return it->second;
}

// A tower's per-bucket tensors, once its output block has read them: no later block does, so a pipeline
// stage does not pass them on (the autograd graph keeps what the backward needs).
void erase_tower(Activations& a, const std::string& prefix, int64_t buckets) {
  for (int64_t b = 0; b < buckets; ++b) {
    for (const char* kind : {"_x.", "_mask.", "_cos.", "_sin."}) a.erase(prefix + kind + std::to_string(b));
  }
  a.erase(prefix + "_buckets");
}

// A block with a name and a fixed parameter list.
class NamedBlock : public Block {
 public:
  NamedBlock(std::string name, std::vector<std::pair<std::string, at::Tensor>> parameters)
      : name_(std::move(name)), parameters_(std::move(parameters)) {}
  const std::string& name() const override { return name_; }
  std::vector<std::pair<std::string, at::Tensor>> parameters() const override { return parameters_; }

 protected:
  std::string name_;
  std::vector<std::pair<std::string, at::Tensor>> parameters_;
};

class ItemEmbeddingBlock : public NamedBlock {
 public:
  explicit ItemEmbeddingBlock(const ItemLlm& item)
      : NamedBlock("item_embedding", {{"item.model.embed_tokens.weight", item.decoder().token_embedding()},
                                      {"item.item_token", item.item_token()}}),
        item_(item) {}
  // The backward of a lookup needs the ids only; the output is the first layer's input, counted there.
  BlockCost cost(const ModelShapes&) const override { return {0.0, numel_of(parameters_), 0}; }
  void forward(Activations& a) const override {
    const ItemInputs in = item_.inputs(need(a, keys::kTokenOffsets, name_), need(a, keys::kTokens, name_));
    for (size_t b = 0; b < in.buckets.size(); ++b) {
      const std::string suffix = "." + std::to_string(b);
      const RopeTables rope = rope_for(in.buckets[b].positions, item_.decoder().config());
      a["item_x" + suffix] = in.buckets[b].embeddings;
      if (in.buckets[b].mask.defined()) a["item_mask" + suffix] = in.buckets[b].mask;  // absent: plain causal
      a["item_cos" + suffix] = rope.cos;  // computed once here, read by every layer
      a["item_sin" + suffix] = rope.sin;
    }
    a["item_buckets"] = at::full({}, static_cast<int64_t>(in.buckets.size()), at::kLong);
    a["item_inverse_order"] = in.inverse_order;
    a.erase(keys::kTokenOffsets);  // read by no later block: a pipeline stage does not pass them on
    a.erase(keys::kTokens);
  }

 private:
  const ItemLlm& item_;
};

// One decoder layer of a tower; `prefix` is "item" or "user".
class DecoderLayerBlock : public NamedBlock {
 public:
  DecoderLayerBlock(const std::string& prefix, size_t index, const DecoderLayer& layer, const LlamaConfig& config,
                    std::vector<std::pair<std::string, at::Tensor>> parameters)
      : NamedBlock(prefix + "_layer." + std::to_string(index), std::move(parameters)),
        prefix_(prefix),
        index_(static_cast<int>(index)),
        layer_(layer),
        config_(config) {}

  int decoder_layer() const override { return index_; }

  BlockCost cost(const ModelShapes& s) const override {
    const bool item = prefix_ == "item";
    BlockCost c = decoder_layer_cost(config_, static_cast<double>(item ? s.items : s.sequences),
                                     static_cast<double>(item ? s.item_tokens : s.sequence_length), s.bytes_per_value,
                                     s.fused_layer_ops, item ? kItemsPerBucket : 0);
    c.parameters = numel_of(parameters_);  // the tensors at hand (the formula's count, unless some were dropped)
    return c;
  }
  // Runs the layer on every bucket of its tower (<prefix>_x.<b>).
  void forward(Activations& a) const override {
    const int64_t buckets = need(a, prefix_ + "_buckets", name_).item<int64_t>();
    for (int64_t b = 0; b < buckets; ++b) {
      const std::string suffix = "." + std::to_string(b);
      const RopeTables rope{need(a, prefix_ + "_cos" + suffix, name_), need(a, prefix_ + "_sin" + suffix, name_)};
      const auto mask = a.find(prefix_ + "_mask" + suffix);  // absent: plain causal (a bucket without padding)
      const at::Tensor x = need(a, prefix_ + "_x" + suffix, name_);
      a[prefix_ + "_x" + suffix] =
          decoder_layer_forward(layer_, config_, index_, x, mask == a.end() ? at::Tensor() : mask->second, rope);
    }
  }

 private:
  std::string prefix_;
  int index_;
  const DecoderLayer& layer_;
  const LlamaConfig& config_;
};

class ItemOutputBlock : public NamedBlock {
 public:
  explicit ItemOutputBlock(const ItemLlm& item)
      : NamedBlock("item_output", {{"item.model.norm.weight", item.decoder().final_norm()}}), item_(item) {}
  BlockCost cost(const ModelShapes& s) const override {
    return {0.0, numel_of(parameters_), s.items * item_.decoder().config().hidden_size * s.bytes_per_value};
  }
  void forward(Activations& a) const override {
    const auto& config = item_.decoder().config();
    const int64_t buckets = need(a, "item_buckets", name_).item<int64_t>();
    std::vector<at::Tensor> outputs;
    for (int64_t b = 0; b < buckets; ++b) {
      const at::Tensor& x = need(a, "item_x." + std::to_string(b), name_);
      // Only the [ITEM] position is read: the final norm runs on that row alone (it is row-wise).
      outputs.push_back(rms_norm(x.select(1, x.size(1) - 1), item_.decoder().final_norm(), config.rms_norm_eps));
    }
    a[keys::kItemEmbeddings] =
        item_rows(outputs, need(a, "item_inverse_order", name_), config.hidden_size, item_.decoder().final_norm());
    erase_tower(a, "item", buckets);
    a.erase("item_inverse_order");
  }

 private:
  const ItemLlm& item_;
};

class UserInputBlock : public NamedBlock {
 public:
  explicit UserInputBlock(const LlamaConfig& user_config) : NamedBlock("user_input", {}), config_(user_config) {}
  BlockCost cost(const ModelShapes&) const override { return {}; }
  void forward(Activations& a) const override {
    const SequenceInputs in =
        hllm_sequences(need(a, keys::kItemEmbeddings, name_), need(a, keys::kItemSlots, name_), need(a, keys::kMask, name_));
    const auto [mask, positions] = left_padded_mask_and_positions(in.mask);
    a[keys::kUserSequences] = in.sequences;
    a[keys::kUserSequenceMask] = in.mask;
    const RopeTables rope = rope_for(positions, config_);
    a["user_x.0"] = in.sequences;
    a["user_mask.0"] = mask;
    a["user_cos.0"] = rope.cos;
    a["user_sin.0"] = rope.sin;
    a["user_buckets"] = at::full({}, int64_t{1}, at::kLong);
    a.erase(keys::kItemSlots);
    a.erase(keys::kMask);
  }

 private:
  const LlamaConfig& config_;
};

class UserOutputBlock : public NamedBlock {
 public:
  explicit UserOutputBlock(const UserLlm& user)
      : NamedBlock("user_output", {{"user.model.norm.weight", user.decoder().final_norm()}}), user_(user) {}
  BlockCost cost(const ModelShapes& s) const override {
    return {0.0, numel_of(parameters_),
            s.sequences * s.sequence_length * user_.decoder().config().hidden_size * s.bytes_per_value};
  }
  void forward(Activations& a) const override {
    a[keys::kUserStates] =
        rms_norm(need(a, "user_x.0", name_), user_.decoder().final_norm(), user_.decoder().config().rms_norm_eps);
    erase_tower(a, "user", 1);
  }

 private:
  const UserLlm& user_;
};

class LossBlock : public NamedBlock {
 public:
  LossBlock(const HllmModel& model, NegativeGather gather)
      : NamedBlock("loss", {{"logit_scale", model.logit_scale()}}), model_(model), gather_(std::move(gather)) {}
  BlockCost cost(const ModelShapes& s) const override {
    const double D = model_.user_llm().decoder().config().hidden_size;
    const double M = static_cast<double>(s.sequences * s.sequence_length);
    return {2 * M * (s.negatives + 1) * D, 1, static_cast<int64_t>(M * (s.negatives + 1) * s.bytes_per_value)};
  }
  void forward(Activations& a) const override {
    const SequenceInputs in{need(a, keys::kUserSequences, name_), need(a, keys::kUserSequenceMask, name_)};
    const HllmOutput out = hllm_loss(need(a, keys::kUserStates, name_), in, need(a, keys::kItemEmbeddings, name_),
                                     need(a, "negative_slots", name_), model_.logit_scale(), gather_);
    a[keys::kLoss] = out.loss;
    a["top_1"] = out.top_k[0];
    a["top_5"] = out.top_k[1];
    a["top_10"] = out.top_k[2];
    a["predictions"] = at::full({}, out.predictions, at::kLong);
    if (out.health.defined()) a[keys::kLossHealth] = out.health;
  }

 private:
  const HllmModel& model_;
  NegativeGather gather_;
};

std::vector<std::pair<std::string, at::Tensor>> layer_parameters(const std::string& prefix,
                                                                 const std::vector<std::pair<std::string, at::Tensor>>& all,
                                                                 size_t index) {
  const std::string start = prefix + "model.layers." + std::to_string(index) + ".";
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& [name, t] : all) {
    if (name.compare(0, start.size(), start) == 0) out.emplace_back(name, t);
  }
  return out;
}

}  // namespace

Blocks hllm_blocks(const HllmModel& model, NegativeGather gather_negatives) {
  Blocks blocks;
  const auto all = model.named_parameters();
  blocks.push_back(std::make_unique<ItemEmbeddingBlock>(model.item_llm()));
  const auto& item = model.item_llm().decoder();
  for (size_t i = 0; i < item.layers().size(); ++i) {
    blocks.push_back(std::make_unique<DecoderLayerBlock>("item", i, item.layers()[i], item.config(),
                                                         layer_parameters("item.", all, i)));
  }
  blocks.push_back(std::make_unique<ItemOutputBlock>(model.item_llm()));
  blocks.push_back(std::make_unique<UserInputBlock>(model.user_llm().decoder().config()));
  const auto& user = model.user_llm().decoder();
  for (size_t i = 0; i < user.layers().size(); ++i) {
    blocks.push_back(std::make_unique<DecoderLayerBlock>("user", i, user.layers()[i], user.config(),
                                                         layer_parameters("user.", all, i)));
  }
  blocks.push_back(std::make_unique<UserOutputBlock>(model.user_llm()));
  blocks.push_back(std::make_unique<LossBlock>(model, std::move(gather_negatives)));
  return blocks;
}

TowerRanges hllm_tower_ranges(const HllmModel& model) {
  // hllm_blocks' order: the embedding, the item layers, item_output | user_input, the user layers, user_output.
  TowerRanges ranges;
  ranges.item_end = model.item_llm().decoder().layers().size() + 2;
  ranges.user_begin = ranges.item_end;
  ranges.user_end = ranges.user_begin + model.user_llm().decoder().layers().size() + 2;
  return ranges;
}

Activations hllm_activations(const data::Batch& batch, const at::Device& device) {
  const BatchTensors t = batch_tensors(batch, device);
  return {{keys::kMask, t.mask},
          {keys::kItemSlots, t.item_slots},
          {"negative_slots", t.negative_slots},
          {keys::kTokenOffsets, t.token_offsets},
          {keys::kTokens, t.tokens}};
}

}  // namespace hllm::models
