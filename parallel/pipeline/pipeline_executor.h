// PipelineExecutor: runs one stage's instruction stream (parallel/pipeline/schedule.h) for an optimizer
// step: the stage's blocks through its BlockRunner (ZeRO and activation checkpointing inside the stage,
// over the stage's data-parallel group), activations forward and gradients back through the pipeline
// communicator (activation_transfer.h). It stops before the gradient reduction and the optimizer step,
// which the caller runs (runtime/TrainingStep), as it does without a pipeline.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <functional>
#include <vector>

#include "models/layered_model.h"
#include "parallel/comm/communicator.h"
#include "parallel/pipeline/schedule.h"
#include "parallel/zero/block_runner.h"

namespace hllm::parallel {

struct MicroBatchHooks {
  // First stage: the inputs of micro-batch `micro`.
  std::function<models::Activations(int micro)> load;
  // Around each backward; `completes_step`: the stage's last backward of the step.
  std::function<void(int micro, bool completes_step)> before_backward;
  std::function<void(int micro, bool completes_step)> after_backward;
};

// Where a stage's step went (wall clock): computing its forwards and backwards, or everything else —
// waiting for a neighbour (the pipeline's bubble) and moving tensors.
struct StageTiming {
  double compute_seconds = 0;
  double step_seconds = 0;
};

class PipelineExecutor {
 public:
  // `activations` and `gradients`: two communicators over the stages of this rank's pipeline (rank =
  // stage), one per direction (activation_transfer.h says why). `runner` runs this stage's blocks; the
  // last stage's blocks must write "loss". All must outlive the executor.
  PipelineExecutor(Communicator& activations, Communicator& gradients, zero::BlockRunner& runner, ScheduleKind kind,
                   c10::Device device);

  // Forward and backward of `micro_batches` micro-batches, each loss scaled by 1 / micro_batches in the
  // backward (gradients are the step's mean). Returns the losses (last stage; empty on the others).
  std::vector<double> run(int micro_batches, const MicroBatchHooks& hooks);

  const StageTiming& timing() const { return timing_; }
  // The last stage's loss health per micro-batch of the last run() (models/info_nce.h; empty elsewhere and
  // for micro-batches that predicted nothing).
  const std::vector<at::Tensor>& loss_health() const { return loss_health_; }
  int stage() const { return stage_; }
  int stages() const { return stages_; }

 private:
  Communicator& activations_;
  Communicator& gradients_;
  zero::BlockRunner& runner_;
  ScheduleKind kind_;
  c10::Device device_;
  int stage_, stages_;
  StageTiming timing_;
  std::vector<at::Tensor> loss_health_;
};

}  // namespace hllm::parallel
