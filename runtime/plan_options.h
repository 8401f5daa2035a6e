// The plan's inputs as a run of a config has them — the memory plan's options (parallel/memory_plan.h) and the
// blocks' cost shapes (models/model_plan.h) — read here, where the whole config is known, so that parallel/
// and models/ plan from their own settings alone. The one reading that a run's placement
// (runtime/model_placement.h), --dry_run's cut and hllm_plan share.
#pragma once

#include <cstdint>

#include "common/config/config.h"
#include "models/model_plan.h"
#include "parallel/memory_plan.h"

namespace hllm::runtime {

// On dp x pp ranks with `micro_batches` per step (stage 0; set .stage per pipeline stage). `on_host`: the
// ranks train on the CPU, where a checkpoint's snapshot (checkpoint.async_save on) lands in the same memory
// as training.
parallel::MemoryPlanOptions memory_plan_options(const config::Config& config, int dp, int pp, int64_t micro_batches,
                                                bool on_host);

// What the blocks' cost shapes read of `config` (models/model_plan.h). `fused_layer_ops`: the layers run the
// CPU's fused nodes (a run on the CPU; hllm_plan for parallel.device cpu, since auto plans for GPUs).
models::ShapeSettings shape_settings(const config::Config& config, bool fused_layer_ops);

}  // namespace hllm::runtime
