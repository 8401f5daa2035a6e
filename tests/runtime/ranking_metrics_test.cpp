#include "runtime/ranking_metrics.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

namespace hllm::runtime {
namespace {

TEST(RankingMetrics, HandComputedRanksWithHistoryMasking) {
  // 6 items (column 0 padding). Row 0: target 3; items 1 and 5 score higher, but 5 is in the history:
  // rank 1. Row 1: target 2 scores highest after the masked history item 4: rank 0. Row 2: filler.
  // Row 3: target 1 is in its own history: a miss.
  const at::Tensor scores = at::tensor(std::vector<float>{9, 0.9f, 0.1f, 0.5f, 0.2f, 0.8f,   //
                                                          9, 0.1f, 0.7f, 0.3f, 0.9f, 0.2f,   //
                                                          9, 0, 0, 0, 0, 0,                  //
                                                          9, 0.5f, 0.1f, 0.1f, 0.1f, 0.1f})
                               .view({4, 6});
  RankingMetrics metrics({1, 2});
  metrics.add(scores, {3, 2, 0, 1}, {0, 1, 2, 2, 4}, {5, 4, 1, 2});
  EXPECT_EQ(metrics.users(), 3);
  const auto m = metrics.averages();
  // Ranks: 1, 0, miss.
  EXPECT_DOUBLE_EQ(m.at("recall@1"), 1.0 / 3);
  EXPECT_DOUBLE_EQ(m.at("recall@2"), 2.0 / 3);
  EXPECT_DOUBLE_EQ(m.at("ndcg@1"), 1.0 / 3);
  EXPECT_NEAR(m.at("ndcg@2"), (1.0 + 1.0 / std::log2(3.0)) / 3, 1e-12);
}

TEST(RankingMetrics, SumsMergeAcrossRanks) {
  const at::Tensor scores = at::tensor(std::vector<float>{0, 0.2f, 0.9f, 0, 0.9f, 0.2f}).view({2, 3});
  RankingMetrics a({1}), b({1}), merged({1});
  a.add(scores.narrow(0, 0, 1), {2}, {0, 0}, {});
  b.add(scores.narrow(0, 1, 1), {2}, {0, 0}, {});
  std::vector<double> total = a.sums();
  const auto other = b.sums();
  for (size_t i = 0; i < total.size(); ++i) total[i] += other[i];
  merged.set_sums(total);
  EXPECT_EQ(merged.users(), 2);
  EXPECT_DOUBLE_EQ(merged.averages().at("recall@1"), 0.5);
}

}  // namespace
}  // namespace hllm::runtime
