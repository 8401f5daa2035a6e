// TrainingStep: one optimizer step of a recommender on this rank — the forward and backward of each
// micro-batch, the gradients made the data-parallel mean, clipping, the NaN/Inf guard and AdamW — in
// whichever way the configuration asks:
//   ZeRO stage 0   the model's own forward; ReplicatedOptimizer (GradientAverager's buckets reduced
//                  during the last backward; AdamW on the parameters, or on float32 masters under bf16);
//   stages 1-3     the model as blocks through parallel/zero/BlockRunner; ZeroOptimizer on the shards;
//                  (both behind runtime/optimizer.h, chosen once: one sequence runs either)
//   checkpointing  blocks too, with HLLM's decoder layers recomputed in the backward (any stage).
//   pipeline       (parallel.pp > 1) this rank runs one stage: its range of the blocks through a
//                  BlockRunner (any ZeRO stage, over the stage's data-parallel group), micro-batches by
//                  parallel/pipeline/PipelineExecutor; only the stage's parameters are trained here, the
//                  gradient norm and the NaN/Inf guard are summed over the pipeline, and the loss comes
//                  from the last stage.
// ParallelModel runs it per step; bench/zero_bench times it per configuration.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>
#include <vector>

#include "checkpoint/checkpoint_reader.h"
#include "checkpoint/state.h"
#include "common/config/config.h"
#include "data/batch.h"
#include "models/recommender.h"
#include "parallel/comm/communicator.h"
#include "parallel/pipeline/pipeline_executor.h"
#include "parallel/pipeline/schedule.h"
#include "parallel/topology.h"
#include "parallel/zero/block_runner.h"
#include "runtime/step_result.h"

namespace hllm::runtime {

class Optimizer;

// This rank's stage of a pipeline (parallel.pp > 1; its ranks are the topology's pp group).
struct PipelineStage {
  size_t first_block = 0, end_block = 0;  // this stage's blocks: [first, end) of model.blocks()
  parallel::ScheduleKind schedule = parallel::ScheduleKind::kOneFOneB;
  bool active() const { return end_block > first_block; }
};

class TrainingStep {
 public:
  // Over the topology's data-parallel group (under pp, of this stage) and, with a pipeline stage, its pp
  // group; the communicators of their own it needs are the topology's channels. The model and topology
  // must outlive this. `initial_values`: for a model built without values (placeholders,
  // models/parameter_source.h), where they come from: ZeRO's units fill only what this rank keeps (stage 3:
  // its shards), stage 0 fills this rank's (stage's) parameters whole.
  TrainingStep(const config::Config& config, models::Recommender& model, const parallel::Topology& topology,
               PipelineStage pipeline = {}, const models::ParameterFill& initial_values = {});
  ~TrainingStep();

  // One optimizer step over `accumulation` micro-batches from next_batch(), with learning rate `lr`.
  StepResult run(const std::function<data::Batch()>& next_batch, int64_t accumulation, double lr);

  // Stage 3: every parameter whole / sharded again (an ID model, which is one block, for evaluation).
  // No-ops otherwise. Collective.
  void gather_parameters();
  void release_parameters();

  // This rank's share of the parameters as pieces of global tensors ("param.<name>", views of the live
  // values): ZeRO's shards, or at stage 0 a 1/dp slice of each replicated parameter. What the best model
  // is kept as (cloned), so no rank ever holds a second whole copy.
  std::vector<checkpoint::StatePiece> parameter_pieces();
  // Writes pieces laid out as parameter_pieces() back into the parameters and makes them whole where the
  // stage keeps them whole (stages 1-2: the shards gathered; stage 0: the slices all-gathered). Collective.
  void restore_parameters(const std::vector<checkpoint::StatePiece>& pieces);

  // Checkpointing (checkpoint/state.h): this rank's share of the parameters, float32 masters (bf16) and
  // Adam's moments as pieces of global tensors, and the optimizer's step count. Stage 0 replicas each
  // save a 1/dp slice of every tensor; ZeRO ranks save their shards.
  checkpoint::CheckpointContent state();
  // Loads the same from a checkpoint written by any data-parallel size or ZeRO stage (a float32
  // checkpoint gives bf16 masters from its parameters). Collective (stages 1-2 gather the parameters).
  void load_state(const checkpoint::Checkpoint& checkpoint);

  const MemoryReport& memory() const { return memory_; }
  // The ZeRO / checkpointing runner, or null (stage 0 without checkpointing, no pipeline).
  const parallel::zero::BlockRunner* runner() const { return runner_.get(); }
  parallel::zero::BlockRunner* runner() { return runner_.get(); }
  // The pipeline's executor (its last step's timing), or null without a pipeline.
  const parallel::PipelineExecutor* pipeline() const { return executor_.get(); }
  // The parameters this rank trains: every one, or its pipeline stage's.
  const std::vector<std::pair<std::string, at::Tensor>>& parameters() const { return parameters_; }
  // ZeRO's collectives since the last reset (full-buffer elements, seconds blocked on them); zero at
  // stage 0.
  parallel::zero::CommunicationCount communication() const;
  void reset_communication();

 private:
  // The forwards and backwards of a step's micro-batches: one after the other, or by the pipeline's schedule.
  void run_micro_batches(const std::function<data::Batch()>& next_batch, int64_t accumulation, StepResult* result);
  void run_pipeline(const std::function<data::Batch()>& next_batch, int64_t accumulation, StepResult* result);
  // Adds a loaded micro-batch's samples and work to the result.
  void count(const data::Batch& batch, StepResult* result) const;

  const config::Config& config_;
  models::Recommender& model_;
  parallel::Communicator& tensor_dp_;      // device tensors, this stage's data-parallel group
  parallel::Communicator* pipeline_host_;  // host scalars (norms, flags, the loss) over the pipeline, or null
  PipelineStage pipeline_stage_;
  int stage_;
  bool mixed_;
  std::vector<std::pair<std::string, at::Tensor>> parameters_;
  at::Device device_;  // the model's
  models::NegativeGather gather_;
  models::Blocks blocks_;
  std::unique_ptr<parallel::zero::BlockRunner> runner_;
  std::unique_ptr<parallel::PipelineExecutor> executor_;
  std::unique_ptr<Optimizer> optimizer_;  // replicated (stage 0) or ZeRO (stages 1-3), chosen once
  bool first_ = true;
  MemoryReport memory_;
};

}  // namespace hllm::runtime
