#include "models/recommender.h"

#include <ATen/ATen.h>

#include "common/error.h"
#include "models/activation_keys.h"
#include "models/hllm_blocks.h"
#include "models/hstu_model.h"
#include "models/sasrec_model.h"

namespace hllm::models {
namespace {

// Each row's real positions, one sequence per row (the rows are left-padded).
void add_rows(const data::Batch& batch, TowerWork* work) {
  for (int r = 0; r < batch.rows; ++r) {
    int64_t length = 0;
    for (int k = 0; k < batch.width; ++k) length += batch.mask[static_cast<size_t>(r) * batch.width + k];
    if (length > 0) add_sequence(length, work);
  }
}

// The weight matrices of one layer of an ID model: SASRec's in-projection (3 D^2), out-projection and two
// feed-forward matrices; HSTU's f1 (4 D^2) and f2.
int64_t matmul_parameters_per_layer(const SasRecModel& model) { return 6 * model.config().hidden_size * model.config().hidden_size; }
int64_t matmul_parameters_per_layer(const HstuModel& model) { return 5 * model.config().hidden_size * model.config().hidden_size; }

template <typename Model>
TowerSize sequence_tower_size(const Model& model) {
  TowerSize size;
  size.name = "sequence";
  for (const auto& [name, tensor] : model.named_parameters()) size.parameters += tensor.numel();
  size.matmul_parameters = model.config().num_layers * matmul_parameters_per_layer(model);
  size.attention_width = model.config().num_layers * model.config().hidden_size;
  return size;
}

at::Tensor eval_items(const data::EvalBatch& batch, const at::Device& device) {
  return at::tensor(batch.items, at::kLong).view({batch.rows, batch.width}).to(device);
}

class HllmRecommender : public Recommender {
 public:
  explicit HllmRecommender(HllmModel model) : model_(std::move(model)) {}
  HllmOutput loss(const data::Batch& batch, const NegativeGather& gather) const override {
    return model_.forward(batch, gather);
  }
  std::vector<std::pair<std::string, at::Tensor>> named_parameters() const override { return model_.named_parameters(); }
  at::Tensor item_embeddings(int64_t, int64_t, const at::Tensor& offsets, const at::Tensor& tokens) const override {
    return model_.item_llm().forward(offsets, tokens);
  }
  bool reads_item_tokens() const override { return true; }
  Blocks blocks(const NegativeGather& gather) const override { return hllm_blocks(model_, gather); }
  TowerRanges tower_ranges() const override { return hllm_tower_ranges(model_); }
  Activations block_inputs(const data::Batch& batch) const override {
    return hllm_activations(batch, model_.logit_scale().device());
  }
  at::Tensor user_states(const data::EvalBatch& batch, const at::Tensor& catalog) const override {
    const at::Tensor items = eval_items(batch, catalog.device());
    const at::Tensor mask = items.ne(0);
    const at::Tensor sequences = catalog.index_select(0, items.view({-1})).view({batch.rows, batch.width, -1}) *
                                 mask.unsqueeze(-1).to(catalog.scalar_type());
    return model_.user_llm().forward(sequences, mask).select(1, batch.width - 1);
  }
  at::Tensor evaluation_user_states(const data::EvalBatch& batch, const at::Tensor& catalog, const RangeRunner& run,
                                    bool starts_user_range) const override {
    // The users pass through the User LLM's blocks; only the sequences cross pipeline stages.
    const TowerRanges towers = tower_ranges();
    Activations inputs;
    if (starts_user_range) {
      const at::Tensor items = eval_items(batch, catalog.device());
      inputs = {{keys::kItemEmbeddings, catalog}, {keys::kItemSlots, items}, {keys::kMask, items.ne(0)}};
    }
    const Activations out = run(towers.user_begin, towers.user_end, std::move(inputs),
                                {keys::kItemEmbeddings, keys::kUserSequences, keys::kUserSequenceMask});
    return out.empty() ? at::Tensor() : out.at(keys::kUserStates).select(1, batch.width - 1);
  }
  void to(const at::Device& device) override { model_.to(device, at::kFloat); }
  std::vector<TowerSize> tower_sizes() const override {
    const auto& item = model_.item_llm().decoder().config();
    return {llama_tower_size("item", item, true, item.hidden_size),
            llama_tower_size("user", model_.user_llm().decoder().config(), false, /*logit_scale*/ 1)};
  }
  std::vector<TowerWork> batch_work(const data::Batch& batch) const override {
    std::vector<TowerWork> work(2);
    const int64_t around_text = model_.item_llm().prompt_length() + 1;  // the prompt before, [ITEM] after
    for (size_t u = 0; u + 1 < batch.token_offsets.size(); ++u) {
      add_sequence(around_text + batch.token_offsets[u + 1] - batch.token_offsets[u], &work[0]);
    }
    add_rows(batch, &work[1]);
    return work;
  }

 private:
  HllmModel model_;
};

// A small ID model as one block: its whole loss, from the batch's ids ("items", "negatives" and, for
// HSTU, "timestamps").
template <typename Model>
class WholeModelBlock : public Block {
 public:
  WholeModelBlock(const Model& model, NegativeGather gather) : model_(model), gather_(std::move(gather)) {}
  const std::string& name() const override { return name_; }
  std::vector<std::pair<std::string, at::Tensor>> parameters() const override { return model_.named_parameters(); }
  BlockCost cost(const ModelShapes&) const override {
    BlockCost c;
    for (const auto& [name, t] : model_.named_parameters()) c.parameters += t.numel();
    return c;
  }
  void forward(Activations& a) const override;

 private:
  const std::string name_ = "model";
  const Model& model_;
  NegativeGather gather_;
};

template <>
void WholeModelBlock<SasRecModel>::forward(Activations& a) const {
  a[keys::kLoss] = model_.forward(a.at("items"), a.at("negatives"), gather_).loss;
}

template <>
void WholeModelBlock<HstuModel>::forward(Activations& a) const {
  a[keys::kLoss] = model_.forward(a.at("items"), a.at("timestamps"), a.at("negatives"), gather_).loss;
}

template <typename Model>
class IdRecommender : public Recommender {
 public:
  // Sized while whole (ZeRO may shard the parameters later).
  explicit IdRecommender(Model model) : model_(std::move(model)), size_(sequence_tower_size(model_)) {}
  HllmOutput loss(const data::Batch& batch, const NegativeGather& gather) const override {
    return model_.forward(batch, gather);
  }
  std::vector<std::pair<std::string, at::Tensor>> named_parameters() const override { return model_.named_parameters(); }
  at::Tensor item_embeddings(int64_t first, int64_t end, const at::Tensor&, const at::Tensor&) const override {
    return model_.item_table().narrow(0, first, end - first);
  }
  bool reads_item_tokens() const override { return false; }
  TowerRanges tower_ranges() const override { return {}; }
  Blocks blocks(const NegativeGather& gather) const override {
    Blocks out;
    out.push_back(std::make_unique<WholeModelBlock<Model>>(model_, gather));
    return out;
  }
  Activations block_inputs(const data::Batch& batch) const override {
    const at::Device device = model_.item_table().device();
    Activations a{{"items", at::tensor(batch.items, at::kLong).view({batch.rows, batch.width}).to(device)},
                  {"negatives", at::tensor(batch.negatives, at::kLong).to(device)}};
    if (!batch.timestamps.empty()) {
      a["timestamps"] = at::tensor(batch.timestamps, at::kLong).view({batch.rows, batch.width}).to(device);
    }
    return a;
  }
  at::Tensor user_states(const data::EvalBatch& batch, const at::Tensor&) const override {
    return states(batch).select(1, batch.width - 1);
  }
  // One block, whole on every rank that evaluates (runtime keeps it gathered): its own forward.
  at::Tensor evaluation_user_states(const data::EvalBatch& batch, const at::Tensor& catalog, const RangeRunner&,
                                    bool) const override {
    return user_states(batch, catalog);
  }
  void to(const at::Device& device) override { model_.to(device); }
  std::vector<TowerSize> tower_sizes() const override { return {size_}; }
  std::vector<TowerWork> batch_work(const data::Batch& batch) const override {
    std::vector<TowerWork> work(1);
    add_rows(batch, &work[0]);
    return work;
  }

 private:
  at::Tensor states(const data::EvalBatch& batch) const;
  Model model_;
  TowerSize size_;
};

template <>
at::Tensor IdRecommender<SasRecModel>::states(const data::EvalBatch& batch) const {
  return model_.states(eval_items(batch, model_.item_table().device()));
}

template <>
at::Tensor IdRecommender<HstuModel>::states(const data::EvalBatch& batch) const {
  const at::Device device = model_.item_table().device();
  return model_.states(eval_items(batch, device),
                       at::tensor(batch.timestamps, at::kLong).view({batch.rows, batch.width}).to(device));
}

}  // namespace

std::unique_ptr<Recommender> make_recommender(const config::ModelConfig& m, RecommenderInputs inputs) {
  const uint64_t seed = inputs.seed;
  const int64_t positions = inputs.max_item_list_len + 1;
  if (m.type == config::ModelType::kHllm) {
    return std::make_unique<HllmRecommender>(
        HllmModel::from_sources(m.item, m.user, inputs.vocab_size, std::move(inputs.prompt_tokens), seed));
  }
  if (m.type == config::ModelType::kSasrec) {
    SasRecConfig c{inputs.num_items, m.hidden_size, m.num_layers, m.num_heads, positions};
    return std::make_unique<IdRecommender<SasRecModel>>(SasRecModel(c, seed));
  }
  HLLM_ASSERT(m.type == config::ModelType::kHstu, "model.type ", config::enum_name(m.type), " has no recommender");
  HstuConfig c;
  c.num_items = inputs.num_items;
  c.hidden_size = m.hidden_size;
  c.num_layers = m.num_layers;
  c.num_heads = m.num_heads;
  c.max_positions = positions;
  return std::make_unique<IdRecommender<HstuModel>>(HstuModel(c, seed));
}

std::unique_ptr<Recommender> make_recommender_without_values(const config::ModelConfig& m, RecommenderInputs inputs,
                                                             const at::Device& device, at::ScalarType dtype,
                                                             std::unique_ptr<ParameterSource>* source) {
  source->reset();
  if (m.type == config::ModelType::kHllm) {
    auto built = HllmModel::unmaterialized(m.item, m.user, inputs.vocab_size, std::move(inputs.prompt_tokens),
                                           inputs.seed, device, dtype);
    *source = std::move(built.source);
    return std::make_unique<HllmRecommender>(std::move(built.model));
  }
  HLLM_CHECK(dtype == at::kFloat, config::enum_name(m.type), " trains in float32");
  auto model = make_recommender(m, std::move(inputs));
  model->to(device);
  return model;
}

}  // namespace hllm::models
