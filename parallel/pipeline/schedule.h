// Pipeline schedules as instruction streams, one per stage: a pure function of (stages, micro-batches,
// kind), so they are tested alone (tests/parallel/schedule_test.cpp) and the executor only follows them.
//   GPipe: every micro-batch forward, then every backward: up to M micro-batches of activations alive.
//   1F1B:  stage s runs (stages - s - 1) warm-up forwards, then alternates one forward and one backward,
//          then drains the backwards: at most (stages - s) micro-batches of activations alive.
// Both end with the gradient reduction over the stage's data-parallel group and the optimizer step.
// Sends are to be posted without waiting (isend; waited for at the step's end): in 1F1B's steady state two
// neighbours send to each other at once, which deadlocks if each waits for its send to be received.
#pragma once

#include <string>
#include <vector>

namespace hllm::parallel {

enum class PipeOp {
  kLoadMicroBatch,    // the first stage reads micro-batch `micro` (later stages receive activations)
  kForward,
  kBackward,
  kSendActivation,    // to stage + 1
  kRecvActivation,    // from stage - 1
  kSendGradient,      // to stage - 1
  kRecvGradient,      // from stage + 1
  kReduceGradients,   // over the stage's data-parallel group
  kOptimizerStep,
};
const char* to_string(PipeOp op);

struct PipeInstruction {
  PipeOp op;
  int micro = -1;  // the micro-batch, for the per-micro-batch operations
  bool operator==(const PipeInstruction& other) const { return op == other.op && micro == other.micro; }
};

enum class ScheduleKind { kGPipe, kOneFOneB };

// The instructions of every stage. Throws hllm::InputError for stages < 1 or micro_batches < 1.
std::vector<std::vector<PipeInstruction>> pipeline_schedule(int stages, int micro_batches, ScheduleKind kind);

// The most micro-batches whose activations a stage holds at once (forwards done, backwards not yet).
int peak_live_micro_batches(const std::vector<PipeInstruction>& stage);

}  // namespace hllm::parallel
