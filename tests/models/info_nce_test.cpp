#include "models/info_nce.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

#include "models/llama_ops.h"
#include "tests/models/gradient_check.h"

namespace hllm::models {
namespace {

at::Tensor rows(std::vector<std::vector<double>> values) {
  at::Tensor t = at::empty({static_cast<int64_t>(values.size()), static_cast<int64_t>(values[0].size())}, at::kDouble);
  for (size_t i = 0; i < values.size(); ++i)
    for (size_t j = 0; j < values[i].size(); ++j) t[i][j] = values[i][j];
  return t;
}

TEST(InfoNce, HandComputedExample) {
  // u = p = (1, 0); negatives (0, 1), (-1, 0), and (2, 0), whose cosine with p is 1 > 0.99: left out.
  // Scale exp(0) = 1: logits [1, 0, -1], loss = log(1 + e^-1 + e^-2) = 0.4076059644.
  const at::Tensor u = rows({{1, 0}}), p = rows({{1, 0}});
  const at::Tensor n = rows({{0, 1}, {-1, 0}, {2, 0}});
  const auto out = info_nce(u, p, n, at::zeros({}, at::kDouble));
  EXPECT_NEAR(out.loss.item<double>(), std::log(1 + std::exp(-1.0) + std::exp(-2.0)), 1e-9);
  EXPECT_EQ(out.top_k[0].item<float>(), 1.0f);
  // The left-out negative must not poison the gradients (no -inf times a scale gradient).
  const at::Tensor scale = at::zeros({}, at::kDouble).requires_grad_(true);
  const at::Tensor uu = u.clone().requires_grad_(true);
  info_nce(uu, p, n, scale).loss.backward();
  EXPECT_TRUE(std::isfinite(scale.grad().item<double>()));
  EXPECT_TRUE(at::isfinite(uu.grad()).all().item<bool>());
  // A second position whose positive is beaten by one negative: rank 1, so top-1 is 1/2.
  const auto two = info_nce(rows({{1, 0}, {0, 1}}), rows({{1, 0}, {1, 1}}), rows({{0, 1}}), at::zeros({}, at::kDouble));
  EXPECT_NEAR(two.top_k[0].item<float>(), 0.5, 1e-6);
  EXPECT_NEAR(two.top_k[1].item<float>(), 1.0, 1e-6);
}

// The health of the hand-computed example: u = p = (1, 0), negatives (0, 1), (-1, 0), (2, 0) of which the
// last is filtered; then two positions, and a collapsed pool.
TEST(InfoNce, HealthOfHandComputedExamples) {
  auto health = [](const InfoNceOutput& out, int64_t field) { return out.health[field].item<double>(); };
  const auto one = info_nce(rows({{1, 0}}), rows({{1, 0}}), rows({{0, 1}, {-1, 0}, {2, 0}}), at::zeros({}, at::kDouble));
  ASSERT_EQ(one.health.numel(), kHealthFields);
  EXPECT_FALSE(one.health.requires_grad());
  EXPECT_DOUBLE_EQ(health(one, kNegativesKept), 2);
  EXPECT_DOUBLE_EQ(health(one, kNegativesKeptMin), 2);
  EXPECT_NEAR(health(one, kFilteredShare), 1.0 / 3, 1e-6);
  EXPECT_NEAR(health(one, kLogitScale), 1.0, 1e-6);
  EXPECT_NEAR(health(one, kPositiveCosine), 1.0, 1e-6);
  EXPECT_NEAR(health(one, kNegativeCosine), (0.0 - 1.0) / 2, 1e-6);  // kept: cos 0 and -1
  // Pairwise cosines of (0,1), (-1,0), (1,0): 0, 0, -1; their mean -1/3.
  EXPECT_NEAR(health(one, kItemCosine), -1.0 / 3, 1e-6);
  // Positions (1,0)->(1,0) and (0,1)->(1,1), one negative (0,1) kept by both (its cosine with (1,1) is 0.71).
  const auto two = info_nce(rows({{1, 0}, {0, 1}}), rows({{1, 0}, {1, 1}}), rows({{0, 1}}), at::full({}, 2.0, at::kDouble));
  EXPECT_DOUBLE_EQ(health(two, kNegativesKept), 1);
  EXPECT_DOUBLE_EQ(health(two, kFilteredShare), 0);
  EXPECT_NEAR(health(two, kLogitScale), std::exp(2.0), 1e-4);
  EXPECT_NEAR(health(two, kPositiveCosine), (1 + std::sqrt(0.5)) / 2, 1e-6);
  EXPECT_NEAR(health(two, kNegativeCosine), (0 + 1) / 2.0, 1e-6);
  EXPECT_NEAR(health(two, kItemCosine), 1.0, 1e-6) << "a pool of one item";
  // A collapsed pool: every item embedding along one direction, all filtered for a positive along it.
  const auto collapsed = info_nce(rows({{0, 1}}), rows({{1, 0}}), rows({{1, 0}, {2, 0}, {3, 0.001}}), at::zeros({}, at::kDouble));
  EXPECT_NEAR(health(collapsed, kItemCosine), 1.0, 1e-5);
  EXPECT_DOUBLE_EQ(health(collapsed, kNegativesKeptMin), 0);
  EXPECT_DOUBLE_EQ(health(collapsed, kFilteredShare), 1);
}

TEST(InfoNce, LogitScaleIsClampedToLn100) {
  const at::Tensor u = rows({{1, 0}}), p = rows({{1, 0}}), n = rows({{0, 1}});
  const double at_max = info_nce(u, p, n, at::full({}, std::log(100.0), at::kDouble)).loss.item<double>();
  const double beyond = info_nce(u, p, n, at::full({}, 10.0, at::kDouble)).loss.item<double>();
  EXPECT_DOUBLE_EQ(at_max, beyond);
  EXPECT_NEAR(at_max, std::log(1 + std::exp(-100.0)), 1e-12);
}

TEST(InfoNce, GradientsMatchFiniteDifferences) {
  at::manual_seed(1);
  testing::expect_gradients_match(
      [](const std::vector<at::Tensor>& x) { return info_nce(x[0], x[1], x[2], x[3], 0.99).loss; },
      {at::randn({3, 4}), at::randn({3, 4}), at::randn({5, 4}), at::full({}, 0.7)}, "InfoNCE");
}

TEST(LlamaOps, RmsNormRopeAttentionGradients) {
  at::manual_seed(2);
  testing::expect_gradients_match(
      [](const std::vector<at::Tensor>& x) { return (rms_norm(x[0], x[1], 1e-5) * x[2]).sum(); },
      {at::randn({2, 6}), at::randn({6}), at::randn({2, 6})}, "RMSNorm");
  const auto tables = rope_tables(at::arange(3, at::kLong), 4, 10000.0);
  testing::expect_gradients_match(
      [&](const std::vector<at::Tensor>& x) {
        return (apply_rope(x[0], tables.first.to(at::kDouble), tables.second.to(at::kDouble)) * x[1]).sum();
      },
      {at::randn({1, 2, 3, 4}), at::randn({1, 2, 3, 4})}, "RoPE");
  const at::Tensor mask = causal_mask(3, at::kCPU);
  testing::expect_gradients_match(
      [&](const std::vector<at::Tensor>& x) { return (grouped_attention(x[0], x[1], x[2], mask) * x[3]).sum(); },
      {at::randn({1, 4, 3, 2}), at::randn({1, 2, 3, 2}), at::randn({1, 2, 3, 2}), at::randn({1, 4, 3, 2})},
      "grouped attention");
}

}  // namespace
}  // namespace hllm::models
