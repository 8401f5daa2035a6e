// InfoNCE as HLLM trains with it (DESIGN.md "Loss"): cosine similarity of each user state with its
// positive item and with the sampled negatives, scaled by exp(logit_scale) (logit_scale clamped to
// [0, ln 100]); a negative whose cosine with the positive exceeds `nce_threshold` is a likely false
// negative and is left out; cross-entropy with the positive as the class. The caller passes only valid
// positions (padding carries no loss) and the negatives already gathered across data-parallel ranks.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

namespace hllm::models {

// The loss's health (README "Training health"), from tensors the loss already has; what a collapse of the
// embeddings or a vanishing pool of negatives shows first (bytedance/HLLM #15, #59):
enum HealthField : int64_t {
  kNegativesKept,     // negatives per positive left after the same-item filter, mean over positives
  kNegativesKeptMin,  // ... and their minimum
  kFilteredShare,     // share of (positive, negative) pairs the filter removed
  kLogitScale,        // the scale in force: exp(clamped logit_scale)
  kPositiveCosine,    // mean cosine of (user state, positive item)
  kNegativeCosine,    // mean cosine of (user state, kept negative)
  // Mean pairwise cosine of the pool's item embeddings (the gathered negatives): 1 when they have collapsed
  // onto one direction. Exact in O(N D) from their sum (|sum|^2 = N + sum over pairs), where an effective
  // rank would need an SVD of the pool.
  kItemCosine,
  kHealthFields,
};
const char* health_field_name(int64_t field);  // "negatives_kept", "negatives_kept_min", ...

struct InfoNceOutput {
  at::Tensor loss;                  // scalar, mean over positions
  std::vector<at::Tensor> top_k;    // per k: fraction of positions whose positive ranks within the top k
  at::Tensor health;                // float32 [kHealthFields], detached
};

constexpr double kNceThreshold = 0.99;
double initial_logit_scale();  // ln(1 / 0.07)
double max_logit_scale();      // ln(100)

// user_states, positives: [M, D]; negatives: [N, D]; logit_scale: scalar (learned). `with_health` false
// leaves `health` undefined (bench/loss_health_bench.cpp times it).
InfoNceOutput info_nce(const at::Tensor& user_states, const at::Tensor& positives, const at::Tensor& negatives,
                       const at::Tensor& logit_scale, double nce_threshold = kNceThreshold,
                       const std::vector<int64_t>& ks = {1, 5, 10}, bool with_health = true);

}  // namespace hllm::models
