#include "models/sasrec_model.h"

#include <ATen/ATen.h>

#include <cmath>
#include <limits>

#include "common/error.h"
#include "models/hllm_towers.h"
#include "models/info_nce.h"
#include "models/parameters.h"

namespace hllm::models {

SasRecModel::SasRecModel(const SasRecConfig& config, uint64_t seed) : config_(config) {
  HLLM_CHECK(config.num_items > 0 && config.hidden_size % config.num_heads == 0, "SASRec: ", config.num_items,
             " items and hidden size ", config.hidden_size, " for ", config.num_heads, " heads");
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const auto options = at::TensorOptions().dtype(at::kFloat);
  const int64_t D = config.hidden_size;
  auto normal = [&](std::vector<int64_t> shape) { return at::normal(0.0, 0.02, shape, generator, options); };
  item_table_ = normal({config.num_items + 1, D});
  item_table_[0].zero_();
  positions_ = normal({config.max_positions, D});
  for (int64_t i = 0; i < config.num_layers; ++i) {
    layers_.push_back({at::ones({D}, options), at::zeros({D}, options), normal({3 * D, D}), at::zeros({3 * D}, options),
                       normal({D, D}), at::zeros({D}, options), at::ones({D}, options), at::zeros({D}, options),
                       normal({D, D}), at::zeros({D}, options), normal({D, D}), at::zeros({D}, options)});
  }
  final_norm_weight_ = at::ones({D}, options);
  final_norm_bias_ = at::zeros({D}, options);
  logit_scale_ = at::full({}, initial_logit_scale(), options);
  for (auto& [name, tensor] : named_parameters()) tensor.requires_grad_(true);
}

std::vector<std::pair<std::string, at::Tensor>> SasRecModel::named_parameters() const {
  std::vector<std::pair<std::string, at::Tensor>> out = {{"item_table", item_table_}, {"positions", positions_}};
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
  out.emplace_back("final_norm.weight", final_norm_weight_);
  out.emplace_back("final_norm.bias", final_norm_bias_);
  out.emplace_back("logit_scale", logit_scale_);
  return out;
}

void SasRecModel::to(const at::Device& device) {
  move_parameters({&item_table_, &positions_, &final_norm_weight_, &final_norm_bias_, &logit_scale_}, device);
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
  return at::layer_norm(x, {D}, final_norm_weight_, final_norm_bias_);
}

HllmOutput SasRecModel::forward(const data::Batch& batch, const NegativeGather& gather_negatives) const {
  const at::Device device = item_table_.device();
  return forward(at::tensor(batch.items, at::kLong).view({batch.rows, batch.width}).to(device),
                 at::tensor(batch.negatives, at::kLong).to(device), gather_negatives);
}

HllmOutput SasRecModel::forward(const at::Tensor& items, const at::Tensor& negatives,
                                const NegativeGather& gather_negatives) const {
  const at::Tensor mask = items.ne(0);
  const at::Tensor states = this->states(items);
  // Same loss as HLLM: the ID table plays the item embeddings, so a negative's id is its row.
  const SequenceInputs inputs{at::embedding(item_table_, items), mask};
  return hllm_loss(states, inputs, item_table_, negatives, logit_scale_, gather_negatives);
}

}  // namespace hllm::models
