#include "models/hllm_model.h"

#include <ATen/ATen.h>

#include "common/error.h"
#include "models/info_nce.h"
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

std::vector<std::pair<std::string, at::Tensor>> HllmModel::named_parameters() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& [name, tensor] : item_.named_parameters()) out.emplace_back("item." + name, tensor);
  for (const auto& [name, tensor] : user_.named_parameters()) out.emplace_back("user." + name, tensor);
  out.emplace_back("logit_scale", logit_scale_);
  return out;
}

HllmOutput HllmModel::forward(const data::Batch& batch, const NegativeGather& gather_negatives) const {
  const at::Device device = logit_scale_.device();
  const int64_t B = batch.rows, W = batch.width;
  HLLM_CHECK(static_cast<int64_t>(batch.items.size()) == B * W, "HLLM: batch items are not [rows, width]");
  const at::Tensor items = item_.forward(long_tensor(batch.token_offsets, device), long_tensor(batch.tokens, device));
  const int64_t D = items.size(1);

  const at::Tensor mask = at::tensor(std::vector<int64_t>(batch.mask.begin(), batch.mask.end()), at::kLong)
                              .to(device)
                              .view({B, W})
                              .to(at::kBool);
  const at::Tensor slots = long_tensor(batch.item_slots, device).clamp_min(0);
  const at::Tensor sequences = items.index_select(0, slots).view({B, W, D}) * mask.unsqueeze(-1).to(items.scalar_type());
  const at::Tensor states = user_.forward(sequences, mask);  // [B, W, D]

  // The state at t predicts the item at t + 1 where both are real.
  const at::Tensor valid = mask.narrow(1, 0, W - 1).logical_and(mask.narrow(1, 1, W - 1));  // [B, W-1]
  const at::Tensor queries = states.narrow(1, 0, W - 1).index({valid});                    // [M, D]
  const at::Tensor positives = sequences.narrow(1, 1, W - 1).index({valid});               // [M, D]
  at::Tensor negatives = items.index_select(0, long_tensor(batch.negative_slots, device));   // [N, D]
  if (gather_negatives) negatives = gather_negatives(negatives);

  HllmOutput out;
  out.predictions = queries.size(0);
  if (out.predictions == 0 || negatives.size(0) == 0) {
    // Nothing to predict (all filler rows): a zero loss that still touches every parameter's graph.
    out.loss = items.sum() * 0.0 + logit_scale_ * 0.0;
    for (int k = 0; k < 3; ++k) out.top_k.push_back(at::zeros({}, at::kFloat));
    return out;
  }
  auto nce = info_nce(queries, positives, negatives, logit_scale_, kNceThreshold, {1, 5, 10});
  out.loss = nce.loss;
  out.top_k = std::move(nce.top_k);
  return out;
}

}  // namespace hllm::models
