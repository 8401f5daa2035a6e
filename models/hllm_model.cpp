#include "models/hllm_model.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include "common/error.h"
#include "models/hf_weights.h"
#include "models/info_nce.h"
#include "models/parameters.h"
#include "models/presets.h"

namespace hllm::models {
namespace {

at::Tensor long_tensor(const std::vector<int64_t>& values, const at::Device& device) {
  return at::tensor(values, at::kLong).to(device);
}

}  // namespace

HllmModel::HllmModel(ItemLlm item, UserLlm user)
    : item_(std::move(item)), user_(std::move(user)), logit_scale_(at::full({}, initial_logit_scale(), at::kFloat)) {
  const auto& a = item_.decoder().config();
  const auto& b = user_.decoder().config();
  if (a.hidden_size != b.hidden_size) {
    throw InputError(detail::concat("HLLM: the Item LLM's hidden size ", a.hidden_size,
                                    " differs from the User LLM's ", b.hidden_size,
                                    "; the item embedding is the User LLM's input, so they must match"));
  }
  logit_scale_.requires_grad_(true);
}

HllmModel HllmModel::from_presets(const std::string& item_preset, const std::string& user_preset, int64_t vocab_size,
                                  std::vector<int64_t> prompt_tokens, uint64_t seed) {
  LlamaDecoder item_decoder = LlamaDecoder::random(preset_config(item_preset, vocab_size), seed);
  LlamaDecoder user_decoder = LlamaDecoder::random(preset_config(user_preset, vocab_size), seed + 1);
  HllmModel model(ItemLlm(std::move(item_decoder), std::move(prompt_tokens), seed + 2), UserLlm(std::move(user_decoder)));
  for (auto& [name, tensor] : model.named_parameters()) tensor.requires_grad_(true);
  return model;
}

HllmModel HllmModel::from_sources(const config::TowerSpec& item_source, const config::TowerSpec& user_source,
                                  int64_t vocab_size, std::vector<int64_t> prompt_tokens, uint64_t seed) {
  auto tower = [&](const config::TowerSpec& source, uint64_t tower_seed, bool token_table) {
    if (is_model_directory(source)) {
      return LlamaDecoder::from_hf(source.source, at::kFloat, token_table, /*lm_head=*/false);  // HLLM has none
    }
    return LlamaDecoder::random(tower_config(source, vocab_size), tower_seed);
  };
  HllmModel model(ItemLlm(tower(item_source, seed, true), std::move(prompt_tokens), seed + 2),
                  UserLlm(tower(user_source, seed + 1, false)));
  // Towers exported by hllm_export carry HLLM's own trained tensors beside the Hugging Face ones:
  // [ITEM] in the Item LLM's directory, logit_scale in the User LLM's.
  const auto adopt = [&](const config::TowerSpec& source, const std::string& stored, const std::string& parameter) {
    if (!is_model_directory(source)) return;
    const HfWeights weights(source.source);
    if (!weights.has(stored)) return;
    for (auto& [name, tensor] : model.named_parameters()) {
      if (name != parameter) continue;
      c10::NoGradGuard no_grad;
      tensor.copy_(weights.load(stored, tensor.sizes().vec(), tensor.scalar_type()));
    }
  };
  adopt(item_source, "item_token", "item.item_token");
  adopt(user_source, "logit_scale", "logit_scale");
  for (auto& [name, tensor] : model.named_parameters()) tensor.requires_grad_(true);
  return model;
}

HllmModel::Unmaterialized HllmModel::unmaterialized(const config::TowerSpec& item_source,
                                                     const config::TowerSpec& user_source,
                                                     int64_t vocab_size, std::vector<int64_t> prompt_tokens, uint64_t seed,
                                                     const at::Device& device, at::ScalarType dtype) {
  const auto options = at::TensorOptions().dtype(dtype).device(device);
  auto sources = std::make_unique<ParameterSources>();
  // A tower: its Hugging Face directory's tensors, or its preset's random stream (from_sources' seeds).
  const auto tower = [&](const config::TowerSpec& source, const std::string& prefix, uint64_t tower_seed,
                         bool token_table, HfSource** hf) {
    *hf = nullptr;
    if (is_model_directory(source)) {
      const LlamaConfig config = read_hf_config(source.source);
      auto files = std::make_unique<HfSource>(source.source);
      LlamaDecoder::describe_hf(config, prefix, token_table, files.get());
      *hf = files.get();
      sources->add(std::move(files));
      return LlamaDecoder::unmaterialized(config, options);
    }
    const LlamaConfig config = tower_config(source, vocab_size);
    auto stream = std::make_unique<RandomStream>(tower_seed);
    LlamaDecoder::describe_random(config, prefix, stream.get());
    sources->add(std::move(stream));
    return LlamaDecoder::unmaterialized(config, options);
  };
  HfSource *item_files = nullptr, *user_files = nullptr;
  LlamaDecoder item_decoder = tower(item_source, "item.", seed, true, &item_files);
  LlamaDecoder user_decoder = tower(user_source, "user.", seed + 1, false, &user_files);
  // [ITEM] and logit_scale: from the towers' directories when hllm_export wrote them there (see
  // from_sources), else [ITEM] drawn from seed + 2 and logit_scale its initial value.
  const int64_t D = item_decoder.config().hidden_size;
  if (item_files && item_files->has("item_token")) {
    item_files->add("item.item_token", "item_token", {D});
  } else {
    auto stream = std::make_unique<RandomStream>(seed + 2);
    stream->add("item.item_token", {D}, RandomStream::Kind::kNormal);
    sources->add(std::move(stream));
  }
  const bool stored_scale = user_files && user_files->has("logit_scale");
  if (stored_scale) user_files->add("logit_scale", "logit_scale", {});
  HllmModel model(ItemLlm(std::move(item_decoder), std::move(prompt_tokens), placeholder({D}, options)),
                  UserLlm(std::move(user_decoder)));
  model.logit_scale_ = moved_parameter(model.logit_scale_, device, at::kFloat);
  if (stored_scale) model.logit_scale_ = placeholder({}, model.logit_scale_.options());
  for (auto& [name, tensor] : model.named_parameters()) tensor.requires_grad_(true);
  return {std::move(model), std::move(sources)};
}

void HllmModel::to(const at::Device& device, at::ScalarType dtype) {
  item_.to(device, dtype);
  user_.to(device, dtype);
  logit_scale_ = moved_parameter(logit_scale_, device, at::kFloat);
}

std::vector<std::pair<std::string, at::Tensor>> HllmModel::named_parameters() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& [name, tensor] : item_.named_parameters()) out.emplace_back("item." + name, tensor);
  for (const auto& [name, tensor] : user_.named_parameters()) out.emplace_back("user." + name, tensor);
  out.emplace_back("logit_scale", logit_scale_);
  return out;
}

BatchTensors batch_tensors(const data::Batch& batch, const at::Device& device) {
  HLLM_CHECK(static_cast<int64_t>(batch.items.size()) == int64_t(batch.rows) * batch.width,
             "HLLM: batch items are not [rows, width]");
  BatchTensors t;
  t.mask = at::tensor(std::vector<int64_t>(batch.mask.begin(), batch.mask.end()), at::kLong)
               .view({batch.rows, batch.width})
               .to(at::kBool)
               .to(device);
  t.item_slots = long_tensor(batch.item_slots, device).view({batch.rows, batch.width});
  t.negative_slots = long_tensor(batch.negative_slots, device);
  t.token_offsets = long_tensor(batch.token_offsets, device);
  t.tokens = long_tensor(batch.tokens, device);
  return t;
}

SequenceInputs hllm_sequences(const at::Tensor& item_embeddings, const at::Tensor& item_slots, const at::Tensor& mask) {
  const int64_t B = item_slots.size(0), W = item_slots.size(1), D = item_embeddings.size(1);
  const at::Tensor gathered = item_embeddings.index_select(0, item_slots.clamp_min(0).view({-1})).view({B, W, D});
  return {gathered * mask.unsqueeze(-1).to(item_embeddings.scalar_type()), mask};
}

HllmOutput hllm_loss(const at::Tensor& states, const SequenceInputs& inputs, const at::Tensor& item_embeddings,
                     const at::Tensor& negative_slots, const at::Tensor& logit_scale, const NegativeGather& gather) {
  const int64_t W = inputs.mask.size(1);
  const at::Tensor valid = inputs.mask.narrow(1, 0, W - 1).logical_and(inputs.mask.narrow(1, 1, W - 1));  // [B, W-1]
  const at::Tensor queries = states.narrow(1, 0, W - 1).index({valid});                                 // [M, D]
  const at::Tensor positives = inputs.sequences.narrow(1, 1, W - 1).index({valid});                     // [M, D]
  at::Tensor negatives = item_embeddings.index_select(0, negative_slots);                               // [N, D]
  if (gather) negatives = gather(negatives);
  HllmOutput out;
  out.predictions = queries.size(0);
  if (out.predictions == 0 || negatives.size(0) == 0) {
    // Nothing to predict (all filler rows): a zero loss that still touches every parameter's graph, and the
    // gathered negatives: their gather's backward is a collective that the other ranks run too.
    out.loss = states.sum() * 0.0 + item_embeddings.sum() * 0.0 + logit_scale * 0.0;
    if (negatives.numel() > 0) out.loss = out.loss + negatives.sum() * 0.0;
    for (int k = 0; k < 3; ++k) out.top_k.push_back(at::zeros({}, at::kFloat));
    return out;
  }
  auto nce = info_nce(queries, positives, negatives, logit_scale, kNceThreshold, {1, 5, 10});
  out.loss = nce.loss;
  out.top_k = std::move(nce.top_k);
  out.health = nce.health;
  return out;
}

HllmOutput HllmModel::forward(const data::Batch& batch, const NegativeGather& gather_negatives) const {
  const BatchTensors t = batch_tensors(batch, logit_scale_.device());
  const at::Tensor items = item_.forward(t.token_offsets, t.tokens);  // [U, D]
  const SequenceInputs inputs = hllm_sequences(items, t.item_slots, t.mask);
  const at::Tensor states = user_.forward(inputs.sequences, inputs.mask);  // [B, W, D]
  return hllm_loss(states, inputs, items, t.negative_slots, logit_scale_, gather_negatives);
}

}  // namespace hllm::models
