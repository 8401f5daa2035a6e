// SASRec (Kang & McAuley, ICDM 2018), the paper's ID-based baseline, trained with the same InfoNCE loss and
// batches as HLLM: an item-ID embedding table instead of the Item LLM, learned absolute positions, and
// pre-norm causal transformer blocks (LayerNorm, multi-head attention, ReLU feed-forward). No dropout: the
// runs are deterministic.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "data/batch.h"
#include "models/hllm_model.h"
#include "models/id_model.h"

namespace hllm::models {

using SasRecConfig = IdModelConfig;

class SasRecModel : public IdModel {
 public:
  SasRecModel(const SasRecConfig& config, uint64_t seed);

  HllmOutput forward(const data::Batch& batch, const NegativeGather& gather_negatives = {}) const;
  // The same on tensors on the model's device: items [B, W] (0 = padding), negatives [N] (item ids).
  HllmOutput forward(const at::Tensor& items, const at::Tensor& negatives, const NegativeGather& gather_negatives) const;
  // User states for left-padded item ids [B, S] (0 = padding).   Returns [B, S, D].
  at::Tensor states(const at::Tensor& items) const;
  const SasRecConfig& config() const { return config_; }
  void to(const at::Device& device);
  std::vector<std::pair<std::string, at::Tensor>> named_parameters() const;

 private:
  struct Layer {
    at::Tensor norm1_weight, norm1_bias, in_proj, in_bias, out_proj, out_bias;
    at::Tensor norm2_weight, norm2_bias, ffn1, ffn1_bias, ffn2, ffn2_bias;
  };
  SasRecConfig config_;
  at::Tensor positions_;  // [max_positions, D]
  std::vector<Layer> layers_;
};

}  // namespace hllm::models
