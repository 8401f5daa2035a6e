#include "models/sasrec_model.h"

#include <ATen/ATen.h>

#include <cmath>
#include <limits>

#include "common/error.h"
#include "models/hllm_towers.h"
#include "models/info_nce.h"
#include "models/parameters.h"

namespace hllm::models {

SasRecModel::SasRecModel(const SasRecConfig& config, uint64_t seed) : IdModel("SASRec", config, seed), config_(config) {
  const int64_t D = config.hidden_size;
  positions_ = normal({config.max_positions, D});
  for (int64_t i = 0; i < config.num_layers; ++i) {
    layers_.push_back({ones(D), zeros(D), normal({3 * D, D}), zeros(3 * D), normal({D, D}), zeros(D), ones(D), zeros(D),
                       normal({D, D}), zeros(D), normal({D, D}), zeros(D)});
  }
  for (auto& [name, tensor] : named_parameters()) tensor.requires_grad_(true);
}

std::vector<std::pair<std::string, at::Tensor>> SasRecModel::named_parameters() const {
  std::vector<std::pair<std::string, at::Tensor>> out = {{"positions", positions_}};
  for (size_t i = 0; i < layers_.size(); ++i) {
    const std::string p = "layers." + std::to_string(i) + ".";
    const auto& l = layers_[i];
    for (const auto& [name, t] : std::vector<std::pair<const char*, at::Tensor>>{
             {"norm1.weight", l.norm1_weight}, {"norm1.bias", l.norm1_bias}, {"attention.in_proj", l.in_proj},
             {"attention.in_bias", l.in_bias}, {"attention.out_proj", l.out_proj}, {"attention.out_bias", l.out_bias},
             {"norm2.weight", l.norm2_weight}, {"norm2.bias", l.norm2_bias}, {"ffn1.weight", l.ffn1},
             {"ffn1.bias", l.ffn1_bias}, {"ffn2.weight", l.ffn2}, {"ffn2.bias", l.ffn2_bias}}) {
      out.emplace_back(p + name, t);
    }
  }
  return parameters_around(std::move(out));
}

void SasRecModel::to(const at::Device& device) {
  move_to(device, {&positions_});
  for (auto& l : layers_) {
    move_parameters({&l.norm1_weight, &l.norm1_bias, &l.in_proj, &l.in_bias, &l.out_proj, &l.out_bias, &l.norm2_weight,
                     &l.norm2_bias, &l.ffn1, &l.ffn1_bias, &l.ffn2, &l.ffn2_bias},
                    device);
  }
}

at::Tensor SasRecModel::states(const at::Tensor& items) const {
  const int64_t B = items.size(0), S = items.size(1), D = config_.hidden_size, H = config_.num_heads, d = D / H;
  HLLM_CHECK(S <= config_.max_positions, "SASRec: ", S, " positions, the model has ", config_.max_positions);
  const at::Tensor real = items.ne(0);
  const auto [mask, positions] = left_padded_mask_and_positions(real);
  at::Tensor x = at::embedding(item_table_, items) * std::sqrt(static_cast<double>(D)) + at::embedding(positions_, positions);
  x = x * real.unsqueeze(-1).to(x.scalar_type());
  for (const auto& l : layers_) {
    const at::Tensor h = at::layer_norm(x, {D}, l.norm1_weight, l.norm1_bias);
    const auto qkv = at::linear(h, l.in_proj, l.in_bias).view({B, S, 3, H, d}).permute({2, 0, 3, 1, 4});  // [3, B, H, S, d]
    at::Tensor scores = at::matmul(qkv[0], qkv[1].transpose(-2, -1)) / std::sqrt(static_cast<double>(d));
    scores = scores.masked_fill(mask.logical_not(), -std::numeric_limits<float>::infinity());
    const at::Tensor attended = at::matmul(at::nan_to_num(at::softmax(scores, -1), 0.0), qkv[2]);  // [B, H, S, d]
    x = x + at::linear(attended.transpose(1, 2).reshape({B, S, D}), l.out_proj, l.out_bias);
    const at::Tensor f = at::layer_norm(x, {D}, l.norm2_weight, l.norm2_bias);
    x = x + at::linear(at::relu(at::linear(f, l.ffn1, l.ffn1_bias)), l.ffn2, l.ffn2_bias);
    x = x * real.unsqueeze(-1).to(x.scalar_type());
  }
  return final_norm(x);
}

HllmOutput SasRecModel::forward(const data::Batch& batch, const NegativeGather& gather_negatives) const {
  const at::Device device = item_table_.device();
  return forward(at::tensor(batch.items, at::kLong).view({batch.rows, batch.width}).to(device),
                 at::tensor(batch.negatives, at::kLong).to(device), gather_negatives);
}

HllmOutput SasRecModel::forward(const at::Tensor& items, const at::Tensor& negatives,
                                const NegativeGather& gather_negatives) const {
  return loss(states(items), items, negatives, gather_negatives);
}

}  // namespace hllm::models
