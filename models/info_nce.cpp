#include "models/info_nce.h"

#include <ATen/ATen.h>

#include <cmath>
#include <limits>

namespace hllm::models {
namespace {

// Unit vectors along the last dim, in float32 (float64 stays float64, for gradient checks).
at::Tensor unit(const at::Tensor& x) {
  const at::Tensor y = x.scalar_type() == at::kDouble ? x : x.to(at::kFloat);
  return y / y.norm(2, {-1}, /*keepdim=*/true).clamp_min(1e-12);
}

}  // namespace

const char* health_field_name(int64_t field) {
  static const char* const names[kHealthFields] = {"negatives_kept", "negatives_kept_min", "filtered_share",
                                                   "logit_scale",    "positive_cosine",    "negative_cosine",
                                                   "item_cosine"};
  return field >= 0 && field < kHealthFields ? names[field] : "?";
}

namespace {

// HealthField's values, float32, from the loss's own tensors (detached): unit user states and positives
// u, p [M, D], unit pool n [N, D], the cosines u n^T [M, N], and `similar` [M, N], the pairs the filter removed.
at::Tensor loss_health(const at::Tensor& u, const at::Tensor& p, const at::Tensor& n, const at::Tensor& cosines,
                       const at::Tensor& scale, const at::Tensor& similar) {
  const at::NoGradGuard no_grad;
  const double pool = static_cast<double>(n.size(0));
  const at::Tensor kept_per_positive = similar.logical_not().sum({-1}).to(at::kDouble);  // [M]
  const at::Tensor kept_pairs = kept_per_positive.sum();
  const at::Tensor pool_sum = n.sum(0).to(at::kDouble);
  const at::Tensor item_cosine = pool > 1 ? (pool_sum.dot(pool_sum) - pool) / (pool * (pool - 1))
                                          : at::ones({}, at::kDouble);
  const std::vector<at::Tensor> fields = {
      kept_per_positive.mean(),
      kept_per_positive.min(),
      1.0 - kept_pairs / (pool * static_cast<double>(u.size(0))),
      scale.to(at::kDouble),
      (u * p).sum({-1}).to(at::kDouble).mean(),
      cosines.masked_fill(similar, 0).sum().to(at::kDouble) / kept_pairs.clamp_min(1),
      item_cosine,
  };
  return at::stack(fields).to(at::kFloat);
}

}  // namespace

double initial_logit_scale() { return std::log(1.0 / 0.07); }
double max_logit_scale() { return std::log(100.0); }

InfoNceOutput info_nce(const at::Tensor& user_states, const at::Tensor& positives, const at::Tensor& negatives,
                       const at::Tensor& logit_scale, double nce_threshold, const std::vector<int64_t>& ks,
                       bool with_health) {
  const at::Tensor u = unit(user_states);  // [M, D]
  const at::Tensor p = unit(positives);    // [M, D]
  const at::Tensor n = unit(negatives);    // [N, D]
  const at::Tensor scale = logit_scale.clamp(0.0, max_logit_scale()).exp();
  const at::Tensor positive_logits = (u * p).sum({-1}, /*keepdim=*/true) * scale;  // [M, 1]
  const at::Tensor cosines = at::matmul(u, n.t());                                // [M, N]
  at::Tensor negative_logits = cosines * scale;
  // False negatives: too close to the positive; left out after scaling, so no -inf meets the scale's
  // gradient. No gradient flows through the choice itself.
  const at::Tensor similar = at::matmul(p.detach(), n.detach().t()).gt(nce_threshold);
  negative_logits = negative_logits.masked_fill(similar, -std::numeric_limits<double>::infinity());
  const at::Tensor logits = at::cat({positive_logits, negative_logits}, -1);  // [M, 1 + N]
  InfoNceOutput out;
  // Cross-entropy with class 0: logsumexp(logits) - logits[:, 0].
  out.loss = (at::logsumexp(logits, {-1}) - logits.select(-1, 0)).mean();
  {
    // Rank of the positive: how many kept negatives score strictly higher.
    const at::Tensor detached = logits.detach();
    const at::Tensor rank = detached.narrow(-1, 1, detached.size(-1) - 1).gt(detached.narrow(-1, 0, 1)).sum({-1});
    for (const auto k : ks) out.top_k.push_back(rank.lt(k).to(at::kFloat).mean());
  }
  if (with_health) out.health = loss_health(u.detach(), p.detach(), n.detach(), cosines.detach(), scale.detach(), similar);
  return out;
}

}  // namespace hllm::models
