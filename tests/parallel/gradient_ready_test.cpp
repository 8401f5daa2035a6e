#include "parallel/gradient_ready.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/variable.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "common/error.h"

namespace hllm::parallel {
namespace {

std::vector<std::pair<std::string, at::Tensor>> leaves(int n) {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (int i = 0; i < n; ++i) out.emplace_back("p" + std::to_string(i), at::ones({2}).requires_grad_(true));
  return out;
}

at::Tensor loss_of(const std::vector<std::pair<std::string, at::Tensor>>& parameters, const std::vector<int>& used) {
  at::Tensor loss = at::zeros({});
  for (const int i : used) loss = loss + parameters[i].second.sum();
  return loss;
}

// Parameters in two groups: an armed backward reports each parameter once, as its gradient is in; a group
// is complete when all of its parameters are; an unarmed one reports nothing.
TEST(GradientReadiness, ReportsEachGradientOncePerArmedRound) {
  const auto parameters = leaves(3);
  std::vector<size_t> calls;
  std::unique_ptr<GradientReadiness> readiness;
  readiness = std::make_unique<GradientReadiness>(parameters, std::vector<size_t>{0, 0, 1},
                                                  [&](size_t group) { calls.push_back(group); }, "test");
  EXPECT_EQ(readiness->waiting(0), 2u);
  loss_of(parameters, {0, 1, 2}).backward();
  EXPECT_TRUE(calls.empty()) << "not armed";

  const auto count = [&](size_t group) { return std::count(calls.begin(), calls.end(), group); };
  readiness->start_round(/*armed=*/true);
  loss_of(parameters, {0, 2}).backward();
  EXPECT_EQ(count(0), 1);
  EXPECT_EQ(count(1), 1);
  EXPECT_EQ(readiness->waiting(0), 1u);
  EXPECT_EQ(readiness->waiting(1), 0u);
  loss_of(parameters, {0, 1}).backward();  // p0 again counts once: only p1 is new
  EXPECT_EQ(count(0), 2);
  EXPECT_EQ(calls.back(), 0u);
  EXPECT_EQ(readiness->waiting(0), 0u);

  readiness->disarm();
  loss_of(parameters, {0}).backward();
  EXPECT_EQ(calls.size(), 3u);
  readiness->start_round(true);
  EXPECT_EQ(readiness->waiting(0), 2u);

  // The hooks outlive it (the parameters keep their accumulators): a later backward calls nobody.
  readiness.reset();
  loss_of(parameters, {0, 1, 2}).backward();
  EXPECT_EQ(calls.size(), 3u);
}

TEST(GradientReadiness, RefusesWhatIsNotATrainableLeaf) {
  auto parameters = leaves(1);
  parameters.emplace_back("frozen", at::ones({2}));
  EXPECT_THROW(GradientReadiness(parameters, {0, 0}, [](size_t) {}, "test"), Error);
}

}  // namespace
}  // namespace hllm::parallel
