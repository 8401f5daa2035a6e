// MemoryPlan: what one rank of a pipeline stage is planned to hold during training, from the blocks' costs
// alone (models/layered_model.h: parameters and activation bytes per block for the configured shapes):
// model states of the ZeRO stage over the stage's data-parallel ranks (parallel/zero/model_state_bytes.h),
// plus the activations of the micro-batches in flight (1F1B: stage s of pp holds min(pp - s, m); GPipe:
// all m; no pipeline: one), each every block's kept tensors, or with checkpointing the decoder layers'
// inputs plus one layer's tensors while it recomputes. Pure: hllm_plan prints it, the engine logs it at
// start and reports the measured peak beside it at the end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "models/layered_model.h"

namespace hllm::parallel {

struct MemoryPlanOptions {
  int zero_stage = 0;
  int dp = 1;                  // data-parallel ranks of the stage
  bool bf16 = false;           // bfloat16 compute with float32 masters
  bool recompute = false;      // activation checkpointing of the decoder layers
  int pp = 1;
  int stage = 0;               // this rank's pipeline stage
  bool gpipe = false;          // else 1F1B
  int64_t micro_batches = 1;   // per optimizer step (gradient_accumulation_steps)
};

struct StageMemory {
  double parameters = 0;        // elements held by the stage (whole, before sharding)
  double model_states = 0;      // bytes per rank
  double activations = 0;       // bytes per rank, at the step's peak
  double micro_batches_in_flight = 1;
  double total() const { return model_states + activations; }
};

// Blocks [first, end) of `costs` as one stage.
StageMemory plan_stage_memory(const std::vector<models::BlockCost>& costs, size_t first, size_t end,
                              const MemoryPlanOptions& options);

}  // namespace hllm::parallel
