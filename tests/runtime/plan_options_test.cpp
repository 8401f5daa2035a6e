// The memory plan's options as a run reads them from its config (runtime/plan_options.h).
#include "runtime/plan_options.h"

#include <gtest/gtest.h>

namespace hllm::runtime {
namespace {

TEST(PlanOptions, ReadFromTheConfig) {
  config::Config c;
  c.zero_optimization.stage = 3;
  c.zero_optimization.stage3_prefetch_bucket_size = 123;
  c.zero_optimization.stage3_max_live_parameters = 456;
  c.train.eval_interval = 0;
  c.checkpoint.async_save = config::AsyncSave::kOn;
  parallel::MemoryPlanOptions o = memory_plan_options(c, 4, 2, 8, /*on_host=*/true);
  EXPECT_EQ(o.zero_stage, 3);
  EXPECT_EQ(o.dp, 4);
  EXPECT_EQ(o.pp, 2);
  EXPECT_EQ(o.micro_batches, 8);
  EXPECT_DOUBLE_EQ(o.prefetch_elements, 123);
  EXPECT_DOUBLE_EQ(o.max_live_elements, 456);
  EXPECT_FALSE(o.keeps_best_model);
  EXPECT_TRUE(o.snapshots_checkpoints);
  EXPECT_FALSE(memory_plan_options(c, 4, 2, 8, /*on_host=*/false).snapshots_checkpoints)
      << "on a GPU the snapshot is in host memory, not the device's";
  c.checkpoint.async_save = config::AsyncSave::kAuto;
  c.train.eval_interval = 10;
  o = memory_plan_options(c, 4, 2, 8, /*on_host=*/true);
  EXPECT_FALSE(o.snapshots_checkpoints) << "auto writes without a snapshot on the CPU";
  EXPECT_TRUE(o.keeps_best_model);
}

}  // namespace
}  // namespace hllm::runtime
