// The memory plan's terms (parallel/memory_plan.h) on hand-made block costs, each worked out by hand from
// what BlockRunner and GradientAverager hold: stage 3's gathered unit and prefetch window, the gradients in flight at each
// ZeRO stage, the backward's one block of activation gradients, the best model and a snapshot.
#include <gtest/gtest.h>

#include <vector>

#include "parallel/memory_plan.h"

namespace hllm::parallel {
namespace {

// Four equal blocks of 10 parameters (a unit each) and a parameterless block of 100 activation bytes.
std::vector<models::BlockCost> four_units() {
  std::vector<models::BlockCost> costs(4, models::BlockCost{0.0, 10, 40, 0});
  costs.push_back(models::BlockCost{0.0, 0, 100, 0});
  return costs;
}

TEST(MemoryPlan, StageThreeHoldsTheGatheredWindowAndTheGradientsInFlight) {
  MemoryPlanOptions o;
  o.zero_stage = 3;
  o.dp = 2;
  o.prefetch_elements = 15;  // one unit ahead
  const StageMemory m = plan_stage_memory(four_units(), 0, 5, o);
  // Forward: a unit and the next (20). Backward at unit 1: unit 1 and unit 0 prefetched (20), unit 1's
  // gradients and their flat copy (20), units 2 and 3 still reducing (20) = 60 elements of 4 bytes.
  EXPECT_DOUBLE_EQ(m.zero_buffers, 60 * 4);
  EXPECT_DOUBLE_EQ(m.backward, 100);  // the largest block's activations, as their gradients
  EXPECT_DOUBLE_EQ(m.activations, 4 * 40 + 100);
  EXPECT_DOUBLE_EQ(m.best_model, 0);
  EXPECT_DOUBLE_EQ(m.snapshot, 0);
  EXPECT_DOUBLE_EQ(m.total(), m.model_states + m.activations + m.backward + m.zero_buffers);

  o.prefetch_elements = 0;  // no prefetch: backward at unit 0 = itself + its gradients twice + units 1, 2
  EXPECT_DOUBLE_EQ(plan_stage_memory(four_units(), 0, 5, o).zero_buffers, 50 * 4);
  o.prefetch_elements = 1e9;
  o.max_live_elements = 25;  // the live bound stops the window after one unit as well
  EXPECT_DOUBLE_EQ(plan_stage_memory(four_units(), 0, 5, o).zero_buffers, 60 * 4);
}

TEST(MemoryPlan, LowerStagesHoldOnlyGradientsInFlight) {
  MemoryPlanOptions o;
  o.dp = 2;
  o.bf16 = true;
  o.zero_stage = 2;  // a unit's gradients, their flat copy, two reductions: 40 elements of 2 bytes
  EXPECT_DOUBLE_EQ(plan_stage_memory(four_units(), 0, 5, o).zero_buffers, 40 * 2);
  o.zero_stage = 1;  // the full gradients are model states; their flat copies in flight: 30
  EXPECT_DOUBLE_EQ(plan_stage_memory(four_units(), 0, 5, o).zero_buffers, 30 * 2);
  o.zero_stage = 0;  // the averager's flat buckets: every float32 gradient once more
  EXPECT_DOUBLE_EQ(plan_stage_memory(four_units(), 0, 5, o).zero_buffers, 40 * 4);
  o.dp = 1;  // nothing to average
  EXPECT_DOUBLE_EQ(plan_stage_memory(four_units(), 0, 5, o).zero_buffers, 0);
}

TEST(MemoryPlan, TheBestModelAndASnapshotAreEachRanksShare) {
  MemoryPlanOptions o;
  o.zero_stage = 3;
  o.dp = 2;
  o.keeps_best_model = true;
  o.snapshots_checkpoints = true;
  const StageMemory m = plan_stage_memory(four_units(), 0, 5, o);
  EXPECT_DOUBLE_EQ(m.best_model, 40.0 / 2 * 4);                   // float32 parameters, 1/dp
  EXPECT_DOUBLE_EQ(m.snapshot, 40.0 / 2 * (4 + 8) + m.best_model);  // parameters, Adam's moments, the best
  EXPECT_DOUBLE_EQ(m.total(), m.step() + m.best_model + m.snapshot);
}

}  // namespace
}  // namespace hllm::parallel
