// LossHealth: the loss's health summed over micro-batches, steps and ranks as the log interval reports it.
#include "runtime/loss_health.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <vector>

#include "parallel/comm/thread_communicator.h"

namespace hllm::runtime {
namespace {

using namespace models;

at::Tensor health_of(double kept, double kept_min, double cosine) {
  std::vector<float> v(kHealthFields, 0.f);
  v[kNegativesKept] = static_cast<float>(kept);
  v[kNegativesKeptMin] = static_cast<float>(kept_min);
  v[kPositiveCosine] = static_cast<float>(cosine);
  return at::tensor(v, at::kFloat);
}

TEST(LossHealth, MeansOverBatchesAndTheMinimumOverAll) {
  LossHealth h;
  EXPECT_TRUE(h.to_json().empty()) << "nothing added: nothing reported";
  EXPECT_EQ(h.summary(), "");
  h.add(health_of(30, 20, 0.5));
  h.add(health_of(10, 25, 0.1));
  EXPECT_EQ(h.batches, 2);
  EXPECT_DOUBLE_EQ(h.mean(kNegativesKept), 20);
  EXPECT_DOUBLE_EQ(h.mean(kNegativesKeptMin), 20);
  EXPECT_NEAR(h.to_json()["positive_cosine"].get<double>(), 0.3, 1e-6);
  EXPECT_EQ(h.to_json().size(), static_cast<size_t>(kHealthFields));
  EXPECT_NE(h.summary().find("negatives 20.0 (min 20"), std::string::npos) << h.summary();
  LossHealth other;
  other.add(health_of(40, 5, 0.0));
  h.add(other);
  h.add(LossHealth{});  // an empty one changes nothing
  EXPECT_EQ(h.batches, 3);
  EXPECT_DOUBLE_EQ(h.mean(kNegativesKeptMin), 5);
  const LossHealth back = LossHealth::from_row(h.to_row());
  EXPECT_EQ(back.batches, h.batches);
  EXPECT_EQ(back.values, h.values) << "a checkpoint row keeps the sums exactly";
}

TEST(LossHealth, OverRanksAddsSumsAndTakesTheMinimumSkippingRanksWithoutBatches) {
  std::vector<LossHealth> all(3);
  parallel::run_thread_ranks(3, [&](parallel::Communicator& comm) {
    LossHealth mine;
    if (comm.rank() == 0) mine.add(health_of(10, 8, 0.2));
    if (comm.rank() == 1) mine.add(health_of(30, 12, 0.4));  // rank 2: no batch (a pipeline's first stage)
    all[comm.rank()] = mine.over(comm);
  });
  for (const auto& h : all) {
    EXPECT_EQ(h.batches, 2);
    EXPECT_DOUBLE_EQ(h.mean(kNegativesKept), 20);
    EXPECT_DOUBLE_EQ(h.mean(kNegativesKeptMin), 8);
    EXPECT_NEAR(h.mean(kPositiveCosine), 0.3, 1e-6);
  }
}

}  // namespace
}  // namespace hllm::runtime
