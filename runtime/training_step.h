// TrainingStep: one optimizer step of a placed model on this rank — the forward and backward of each
// micro-batch, the gradients made the data-parallel mean, clipping, the NaN/Inf guard and AdamW — in
// whichever way the placement holds the parameters (runtime/model_placement.h):
//   ZeRO stage 0   the model's own forward; ReplicatedOptimizer (GradientAverager's buckets reduced
//                  during the last backward; AdamW on the parameters, or on float32 masters under bf16);
//   stages 1-3     the stage's blocks through the placement's BlockRunner; ZeroOptimizer on the shards;
//                  (both behind runtime/optimizer.h, chosen once: one sequence runs either)
//   checkpointing  blocks too, with HLLM's decoder layers recomputed in the backward (any stage).
//   pipeline       (parallel.pp > 1) this rank runs one stage: its blocks through the runner (any ZeRO
//                  stage, over the stage's data-parallel group), micro-batches by
//                  parallel/pipeline/PipelineExecutor; only the stage's parameters are trained here, the
//                  gradient norm and the NaN/Inf guard are summed over the pipeline, and the loss comes
//                  from the last stage.
// It is the checkpointed part of the model (Stateful): this rank's share of the parameters, masters and
// moments, and the optimizer's step count. The Trainer runs it per step; bench/zero_bench times it.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>
#include <vector>

#include "checkpoint/checkpoint_reader.h"
#include "checkpoint/state.h"
#include "checkpoint/stateful.h"
#include "common/config/config.h"
#include "data/batch.h"
#include "models/recommender.h"
#include "parallel/comm/communicator.h"
#include "parallel/pipeline/pipeline_executor.h"
#include "parallel/pipeline/schedule.h"
#include "parallel/topology.h"
#include "parallel/zero/block_runner.h"
#include "runtime/model_placement.h"
#include "runtime/step_result.h"

namespace hllm::runtime {

class Optimizer;

class TrainingStep : public checkpoint::Stateful {
 public:
  // Over the placement's model, blocks and runner; the communicators of its own it needs are the
  // topology's channels. The placement (made for Purpose::kTraining) must outlive this.
  TrainingStep(const config::Config& config, ModelPlacement& placement);
  ~TrainingStep() override;

  // One optimizer step over `accumulation` micro-batches from next_batch(), with learning rate `lr`:
  // compute(), then apply() unless the gradients are not finite (then discard()).
  StepResult run(const std::function<data::Batch()>& next_batch, int64_t accumulation, double lr);
  // A step's forwards and backwards: the gradients averaged, measured and clipped, nothing applied yet, so
  // that the training guards (runtime/training_guard.h) judge the step before it changes the model.
  // `loss_factor` scales the step's loss and gradients: 1 but for fault injection (debug.inject), where
  // NaN or a large factor makes the non-finite step or the loss spike the guards must catch. Collective.
  StepResult compute(const std::function<data::Batch()>& next_batch, int64_t accumulation, double loss_factor = 1.0);
  // The computed gradients applied by AdamW with learning rate `lr`, then cleared.
  void apply(double lr);
  // The computed gradients dropped: the step changes nothing.
  void discard();

  // This rank's share of the parameters as pieces of global tensors ("param.<name>", views of the live
  // values): ZeRO's shards, or at stage 0 a 1/dp slice of each replicated parameter. What the best model
  // is kept as (cloned), so no rank ever holds a second whole copy.
  std::vector<checkpoint::StatePiece> parameter_pieces();
  // Writes pieces laid out as parameter_pieces() back into the parameters and makes them whole where the
  // stage keeps them whole (stages 1-2: the shards gathered; stage 0: the slices all-gathered). Collective.
  void restore_parameters(const std::vector<checkpoint::StatePiece>& pieces);

  // Stateful (checkpoint/state.h): this rank's share of the parameters, float32 masters (bf16) and Adam's
  // moments as pieces of global tensors, and the optimizer's step count. Stage 0 replicas each save a 1/dp
  // slice of every tensor; ZeRO ranks save their shards. Loads the same from a checkpoint written by any
  // data-parallel size, pipeline size or ZeRO stage (a float32 checkpoint gives bf16 masters from its
  // parameters). Collective (stages 1-2 gather the parameters).
  const char* state_name() const override { return "model"; }
  void save_state(std::vector<checkpoint::StatePiece>* pieces, nlohmann::json* scalars) override;
  void load_state(const checkpoint::Checkpoint& checkpoint, const nlohmann::json& scalars) override;

  const MemoryReport& memory() const { return memory_; }
  // The pipeline's executor (its last step's timing), or null without a pipeline.
  const parallel::PipelineExecutor* pipeline() const { return executor_.get(); }
  // ZeRO's collectives since the last reset (full-buffer elements, seconds blocked on them); zero at
  // stage 0.
  parallel::zero::CommunicationCount communication() const;
  void reset_communication();

 private:
  // The forwards and backwards of a step's micro-batches: one after the other, or by the pipeline's schedule.
  void run_micro_batches(const std::function<data::Batch()>& next_batch, int64_t accumulation, StepResult* result);
  void run_pipeline(const std::function<data::Batch()>& next_batch, int64_t accumulation, StepResult* result);
  // After apply() or discard(): the gradients cleared; the first step's collectives counted.
  void end_step();
  // Adds a loaded micro-batch's samples and work to the result.
  void count(const data::Batch& batch, StepResult* result) const;

  const config::Config& config_;
  ModelPlacement& placement_;
  models::Recommender& model_;
  parallel::Communicator& tensor_dp_;      // device tensors, this stage's data-parallel group
  parallel::Communicator* pipeline_host_;  // host scalars (norms, flags, the loss) over the pipeline, or null
  parallel::zero::BlockRunner* runner_;    // the placement's, or null
  at::Device device_;  // the model's
  std::unique_ptr<parallel::PipelineExecutor> executor_;
  std::unique_ptr<Optimizer> optimizer_;  // replicated (stage 0) or ZeRO (stages 1-3), chosen once
  bool first_ = true;
  MemoryReport memory_;
};

}  // namespace hllm::runtime
