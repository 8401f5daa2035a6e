// HSTU (Zhai et al., "Actions Speak Louder than Words", ICML 2024), the paper's generative-recommender
// baseline, on the same batches and InfoNCE loss as HLLM. Each layer:
//   U, V, Q, K = split(SiLU(f1(X)))
//   A = SiLU(Q K^T + rab(p, t)) / n        pointwise (no softmax), causal; n = the real items of the row
//                                           (the paper divides by the padded length; this is padding-invariant)
//   Y = X + f2(LayerNorm(A V) * U)
// rab adds a learned bias per relative position (i - j) and per bucket of log |t_i - t_j| (seconds), shared
// by the heads. The input is the item-ID embedding; positions enter only through rab.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "data/batch.h"
#include "models/hllm_model.h"
#include "models/id_model.h"

namespace hllm::models {

struct HstuConfig : IdModelConfig {
  int64_t time_buckets = 128;
};

class HstuModel : public IdModel {
 public:
  HstuModel(const HstuConfig& config, uint64_t seed);

  HllmOutput forward(const data::Batch& batch, const NegativeGather& gather_negatives = {}) const;
  // The same on tensors on the model's device: items and timestamps [B, W], negatives [N] (item ids).
  HllmOutput forward(const at::Tensor& items, const at::Tensor& timestamps, const at::Tensor& negatives,
                     const NegativeGather& gather_negatives) const;
  // States for left-padded ids [B, S] (0 = padding) and their timestamps [B, S] (seconds). [B, S, D]
  at::Tensor states(const at::Tensor& items, const at::Tensor& timestamps) const;
  std::vector<std::pair<std::string, at::Tensor>> named_parameters() const;
  const HstuConfig& config() const { return config_; }
  void to(const at::Device& device);

  // The time bucket of |dt| seconds: floor(log(max(1, |dt|)) / 0.301), at most time_buckets - 1.
  static at::Tensor time_bucket(const at::Tensor& dt, int64_t buckets);

 private:
  struct Layer {
    at::Tensor f1, f1_bias, norm_weight, norm_bias, f2, f2_bias;
  };
  HstuConfig config_;
  at::Tensor position_bias_;  // [2 max_positions - 1]
  at::Tensor time_bias_;      // [time_buckets]
  std::vector<Layer> layers_;
};

}  // namespace hllm::models
