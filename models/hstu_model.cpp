#include "models/hstu_model.h"

#include <ATen/ATen.h>

#include <cmath>

#include "common/error.h"
#include "models/hllm_towers.h"
#include "models/info_nce.h"
#include "models/parameters.h"

namespace hllm::models {

HstuModel::HstuModel(const HstuConfig& config, uint64_t seed) : IdModel("HSTU", config, seed), config_(config) {
  const int64_t D = config.hidden_size;
  position_bias_ = normal({2 * config.max_positions - 1});
  time_bias_ = normal({config.time_buckets});
  for (int64_t i = 0; i < config.num_layers; ++i) {
    layers_.push_back({normal({4 * D, D}), zeros(4 * D), ones(D), zeros(D), normal({D, D}), zeros(D)});
  }
  for (auto& [name, tensor] : named_parameters()) tensor.requires_grad_(true);
}

std::vector<std::pair<std::string, at::Tensor>> HstuModel::named_parameters() const {
  std::vector<std::pair<std::string, at::Tensor>> out = {{"position_bias", position_bias_}, {"time_bias", time_bias_}};
  for (size_t i = 0; i < layers_.size(); ++i) {
    const std::string p = "layers." + std::to_string(i) + ".";
    out.emplace_back(p + "f1.weight", layers_[i].f1);
    out.emplace_back(p + "f1.bias", layers_[i].f1_bias);
    out.emplace_back(p + "norm.weight", layers_[i].norm_weight);
    out.emplace_back(p + "norm.bias", layers_[i].norm_bias);
    out.emplace_back(p + "f2.weight", layers_[i].f2);
    out.emplace_back(p + "f2.bias", layers_[i].f2_bias);
  }
  return parameters_around(std::move(out));
}

void HstuModel::to(const at::Device& device) {
  move_to(device, {&position_bias_, &time_bias_});
  for (auto& l : layers_) move_parameters({&l.f1, &l.f1_bias, &l.norm_weight, &l.norm_bias, &l.f2, &l.f2_bias}, device);
}

at::Tensor HstuModel::time_bucket(const at::Tensor& dt, int64_t buckets) {
  return (dt.abs().clamp_min(1).to(at::kDouble).log() / 0.301).floor().to(at::kLong).clamp(0, buckets - 1);
}

at::Tensor HstuModel::states(const at::Tensor& items, const at::Tensor& timestamps) const {
  const int64_t B = items.size(0), S = items.size(1), D = config_.hidden_size, H = config_.num_heads, d = D / H;
  HLLM_CHECK(S <= config_.max_positions, "HSTU: ", S, " positions, the model has ", config_.max_positions);
  const at::Tensor real = items.ne(0);
  const auto [mask, positions] = left_padded_mask_and_positions(real);  // mask [B, 1, S, S]
  // Relative attention bias: position (i - j) and log-bucketed |t_i - t_j|.   [B, 1, S, S]
  const at::Tensor relative = positions.unsqueeze(2) - positions.unsqueeze(1) + (config_.max_positions - 1);
  const at::Tensor dt = timestamps.unsqueeze(2) - timestamps.unsqueeze(1);
  const at::Tensor rab = (at::embedding(position_bias_.unsqueeze(1), relative.clamp(0, 2 * config_.max_positions - 2)) +
                          at::embedding(time_bias_.unsqueeze(1), time_bucket(dt, config_.time_buckets)))
                             .squeeze(-1)
                             .unsqueeze(1);
  const at::Tensor keep = mask.to(at::kFloat);
  const at::Tensor count = real.sum(1).clamp_min(1).to(at::kFloat).view({B, 1, 1, 1});
  at::Tensor x = at::embedding(item_table_, items);
  for (const auto& l : layers_) {
    const auto parts = at::silu(at::linear(x, l.f1, l.f1_bias)).chunk(4, -1);  // U, V, Q, K: [B, S, D] each
    auto heads = [&](const at::Tensor& t) { return t.reshape({B, S, H, d}).transpose(1, 2); };  // [B, H, S, d]
    const at::Tensor scores = at::matmul(heads(parts[2]), heads(parts[3]).transpose(-2, -1));
    const at::Tensor attention = at::silu(scores + rab) * keep / count;  // pointwise, causal
    const at::Tensor mixed = at::matmul(attention, heads(parts[1])).transpose(1, 2).reshape({B, S, D});
    x = x + at::linear(at::layer_norm(mixed, {D}, l.norm_weight, l.norm_bias) * parts[0], l.f2, l.f2_bias);
    x = x * real.unsqueeze(-1).to(x.scalar_type());
  }
  return final_norm(x);
}

HllmOutput HstuModel::forward(const data::Batch& batch, const NegativeGather& gather_negatives) const {
  HLLM_CHECK(batch.timestamps.size() == batch.items.size(), "HSTU: the batch has no timestamps");
  const at::Device device = item_table_.device();
  return forward(at::tensor(batch.items, at::kLong).view({batch.rows, batch.width}).to(device),
                 at::tensor(batch.timestamps, at::kLong).view({batch.rows, batch.width}).to(device),
                 at::tensor(batch.negatives, at::kLong).to(device), gather_negatives);
}

HllmOutput HstuModel::forward(const at::Tensor& items, const at::Tensor& timestamps, const at::Tensor& negatives,
                              const NegativeGather& gather_negatives) const {
  return loss(states(items, timestamps), items, negatives, gather_negatives);
}

}  // namespace hllm::models
