// Run under `mpirun -np 2`: HLLM's InfoNCE with negatives all-gathered across ranks (with gradient) gives
// every rank the gradients that one process computes for the sum of the ranks' losses over the
// concatenated negatives.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "models/info_nce.h"
#include "parallel/comm/differentiable_gather.h"
#include "tests/parallel/mpi_test_world.h"

namespace hllm::parallel {
namespace {

struct RankData {
  at::Tensor queries, positives, negatives;
};

// The same data on every rank: rank r's share is generated from seed r.
RankData data_of(int rank) {
  at::manual_seed(100 + rank);
  return {at::randn({4, 6}, at::kDouble), at::randn({4, 6}, at::kDouble), at::randn({3, 6}, at::kDouble)};
}

TEST(NegativeGather, GradientsMatchTheConcatenatedComputation) {
  auto& world = testing::mpi_world();
  const int R = world.size();
  const at::Tensor scale = at::full({}, 1.3, at::kDouble);

  // Distributed: local loss, gathered negatives.
  RankData mine = data_of(world.rank());
  mine.queries.requires_grad_(true);
  mine.negatives.requires_grad_(true);
  const at::Tensor all = all_gather_with_grad(world, mine.negatives);
  ASSERT_EQ(all.size(0), 3 * R);
  models::info_nce(mine.queries, mine.positives, all, scale).loss.backward();

  // One process: every rank's loss over the concatenated negatives, summed.
  std::vector<RankData> ranks;
  std::vector<at::Tensor> negatives;
  for (int r = 0; r < R; ++r) {
    ranks.push_back(data_of(r));
    ranks.back().queries.requires_grad_(true);
    ranks.back().negatives.requires_grad_(true);
    negatives.push_back(ranks.back().negatives);
  }
  const at::Tensor concatenated = at::cat(negatives, 0);
  EXPECT_TRUE(at::allclose(concatenated.detach(), all.detach()));
  at::Tensor total = at::zeros({}, at::kDouble);
  for (int r = 0; r < R; ++r) total = total + models::info_nce(ranks[r].queries, ranks[r].positives, concatenated, scale).loss;
  total.backward();

  EXPECT_TRUE(at::allclose(mine.negatives.grad(), ranks[world.rank()].negatives.grad(), 1e-10, 1e-12));
  EXPECT_TRUE(at::allclose(mine.queries.grad(), ranks[world.rank()].queries.grad(), 1e-10, 1e-12));
}

}  // namespace
}  // namespace hllm::parallel
