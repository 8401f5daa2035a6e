// InfoNCE as HLLM trains with it (DESIGN.md "Loss"): cosine similarity of each user state with its
// positive item and with the sampled negatives, scaled by exp(logit_scale) (logit_scale clamped to
// [0, ln 100]); a negative whose cosine with the positive exceeds `nce_threshold` is a likely false
// negative and is left out; cross-entropy with the positive as the class. The caller passes only valid
// positions (padding carries no loss) and the negatives already gathered across data-parallel ranks.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

namespace hllm::models {

struct InfoNceOutput {
  at::Tensor loss;                  // scalar, mean over positions
  std::vector<at::Tensor> top_k;    // per k: fraction of positions whose positive ranks within the top k
};

constexpr double kNceThreshold = 0.99;
double initial_logit_scale();  // ln(1 / 0.07)
double max_logit_scale();      // ln(100)

// user_states, positives: [M, D]; negatives: [N, D]; logit_scale: scalar (learned).
InfoNceOutput info_nce(const at::Tensor& user_states, const at::Tensor& positives, const at::Tensor& negatives,
                       const at::Tensor& logit_scale, double nce_threshold = kNceThreshold,
                       const std::vector<int64_t>& ks = {1, 5, 10});

}  // namespace hllm::models
