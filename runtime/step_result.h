// What one optimizer step reports (StepResult) and what one rank holds, measured in the first step
// (MemoryReport): the values the training loop, the run log, the totals and both optimizers share, apart
// from the step that produces them (runtime/training_step.h).
#pragma once

#include <cstdint>
#include <vector>

#include "models/training_work.h"
#include "runtime/loss_health.h"

namespace hllm::runtime {

// What one rank holds, measured during the first step.
struct MemoryReport {
  // Model states between the backward and the optimizer step, counted from the live tensors.
  int64_t parameter_bytes = 0;
  int64_t gradient_bytes = 0;
  int64_t optimizer_bytes = 0;  // float32 masters (when not the parameters themselves) + Adam moments
  // Bytes the device's allocator gained during a forward and still held at its end: what is kept for the
  // backward (largest micro-batch of the first step; on the CPU the process heap, see memory_probe.h).
  int64_t activation_bytes = 0;
  // ZeRO's collectives in the first step, as full-buffer elements (stage 3: ~3Ψ; stages 1-2: 2Ψ).
  int64_t gathered_elements = 0;
  int64_t reduced_elements = 0;
  int64_t model_state_bytes() const { return parameter_bytes + gradient_bytes + optimizer_bytes; }
};

struct StepResult {
  double loss = 0;       // mean over the micro-batches of this rank (of its pipeline, under pp)
  double grad_norm = 0;  // of the averaged gradients, before clipping
  std::vector<double> tower_grad_norms;  // per tower of the model's tower_sizes(), likewise (two or more towers)
  bool skipped = false;  // non-finite gradients: no update
  int64_t samples = 0;   // real samples of this rank's micro-batches (under pp: counted by the first stage)
  int64_t tokens = 0;    // tokens the Item LLM read: prompt, text and [ITEM] of each distinct item (idem)
  std::vector<models::TowerWork> work;  // per tower of the model's tower_sizes() (idem; empty elsewhere)
  LossHealth health;     // of the micro-batches that predicted something (under pp: the last stage's)
};

}  // namespace hllm::runtime
