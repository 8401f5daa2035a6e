// ParallelModel: the recommender as this rank holds and runs it under the run's layout, built once from
// the config, the topology and the dataset's shapes. Everything that touches parameters goes through it,
// so no rank ever holds more than its plan:
//   - construction: HLLM is built as placeholders in the compute dtype on the rank's device, cut into
//     pipeline stages (balanced by the blocks' estimated FLOPs, or parallel.pipeline_cut) and given
//     values only where this rank keeps them (ZeRO-3: its shards; stages 0-2: its stage's parameters);
//   - training: train_step() is runtime/TrainingStep (ZeRO 0-3, activation checkpointing, bf16 masters,
//     the pipeline's schedule);
//   - evaluation: forward() runs a range of the chain without autograd through the same BlockRunner
//     (ZeRO-3 gathers block by block) and through the pipeline's stages;
//   - state: the checkpoint's pieces (any layout resumes any other), the best model's share, the final
//     save streamed block by block to rank 0's writer, and the saved model loaded back (hllm_eval);
//   - the plan: this rank's memory per phase (parallel/memory_plan.h), as hllm_plan computes it.
// Device tensors cross ranks through the topology's device groups (NCCL on GPUs), host scalars through
// its host groups.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "checkpoint/checkpoint_reader.h"
#include "checkpoint/state.h"
#include "checkpoint/stateful.h"
#include "common/config/batch_sizes.h"
#include "common/config/config.h"
#include "data/dataset.h"
#include "models/recommender.h"
#include "parallel/memory_plan.h"
#include "parallel/pipeline/partition.h"
#include "parallel/topology.h"
#include "runtime/training_step.h"

namespace hllm::runtime {

// What the model is made for: training (the parameters as training holds them from the start: ZeRO-3
// shards, a pipeline stage's blocks, with the optimizer) or evaluating saved parameters alone (hllm_eval:
// held as training would hold them — ZeRO-3 shards, gathered block by block; stages 0-2 the stage's
// parameters whole — with no gradients or optimizer state).
enum class ModelUse { kTrain, kEvaluate };

class ParallelModel : public checkpoint::Stateful {
 public:
  // Throws InputError for a configuration this build cannot run. Collective: under ZeRO-3 each rank
  // fills only its shards as the model is built. `saved_model` (evaluation only): a directory save()
  // wrote (a run's model/), whose values replace the config's initial ones, each rank reading only the
  // bytes it keeps; a missing or mis-shaped tensor is an InputError naming the file and tensor, on every
  // rank before any reads.
  ParallelModel(const config::Config& config, const config::BatchSizes& batch, const parallel::Topology& topology,
                const data::Dataset& dataset, ModelUse use = ModelUse::kTrain,
                const std::string& saved_model = "");
  ~ParallelModel() override;

  // One optimizer step over `accumulation` micro-batches from next_batch(). Collective.
  StepResult train_step(const std::function<data::Batch()>& next_batch, int64_t accumulation, double lr);
  // The model states and activations measured in the first step.
  const MemoryReport& memory() const;

  // Runs the chain's blocks [first, end) without autograd: through the stages that hold them under pp
  // (each stage calls it alike; `consumed` are dropped before activations cross a stage), through
  // training's BlockRunner (ZeRO-3: gathered block by block). Returns the activations after block end - 1
  // on the stage that runs it, an empty map elsewhere. Collective over the stage's data-parallel group.
  models::Activations forward(size_t first, size_t end, models::Activations inputs,
                              const std::vector<std::string>& consumed = {});
  // The stage that runs `block` of the chain (0 without a pipeline).
  int stage_of_block(size_t block) const;
  // An ID model (SASRec, HSTU: one block, evaluated by its own methods) whole under ZeRO-3, or sharded
  // again; nothing otherwise. Collective.
  void gather_id_model(bool whole);

  const models::Recommender& recommender() const { return *model_; }
  const models::TowerRanges& towers() const { return towers_; }
  const at::Device& device() const { return device_; }
  // The width of an item embedding (HLLM: the Item LLM's hidden size) and the options of one as this
  // rank's stage computes it.
  int64_t item_embedding_width() const { return item_embedding_width_; }
  at::TensorOptions item_embedding_options() const;
  // Pipeline parallelism: the stage cut (empty with pp = 1).
  const parallel::StageCut& stage_cut() const { return cut_; }

  // Stateful: this rank's share of the parameters, masters and moments as pieces of global tensors, and
  // the optimizer's step count; loaded back from any layout. Collective.
  void save_state(checkpoint::CheckpointContent* content) override;
  void load_state(const checkpoint::Checkpoint& checkpoint) override;
  // This rank's share of the parameters (the best model is kept as their copies) and restoring them.
  std::vector<checkpoint::StatePiece> parameter_pieces();
  void restore_parameters(const std::vector<checkpoint::StatePiece>& pieces);

  // model.safetensors with every parameter, streamed block by block to rank 0, which writes it (the
  // constructor's `saved_model` reads it back). Collective.
  void save(const std::string& path);
  // Host float32 copies of every parameter in the model's order: those this rank's stage holds (under
  // ZeRO-3 gathered unit by unit), empty tensors for another stage's. Collective. For tests and small models.
  std::vector<at::Tensor> parameter_copies();

  // This rank's plan: the training step, and every phase of the run.
  const parallel::StageMemory& planned_step() const { return planned_; }
  const parallel::PhaseMemory& planned_phases() const { return planned_phases_; }

 private:
  // Pipeline: the cut of `blocks` by their costs, logged; this rank's plan.
  void set_up_pipeline(const models::Blocks& blocks, const std::vector<models::BlockCost>& costs);
  // This stage's blocks (all at pp = 1) and parameters kept, every parameter's spec recorded, the other
  // stages' parameters freed.
  void keep_stage_blocks(models::Blocks blocks);
  PipelineStage pipeline_stage();
  parallel::MemoryPlanOptions memory_plan_options() const;
  // planned_phases_ from the blocks' costs at training's and evaluation's shapes (this rank's stage).
  void plan_phases(const std::vector<models::BlockCost>& costs, std::vector<models::BlockCost> evaluation_costs);
  // Runs this stage's blocks [first, end) (indices within the stage) without autograd.
  void run_stage_blocks(size_t first, size_t end, models::Activations& activations);
  // Evaluation alone: this rank's parameters get their values from `fill`; under ZeRO-3 (HLLM) as units
  // of a BlockRunner that fills only this rank's shards.
  void hold_for_evaluation(const models::ParameterFill& fill);
  // The ZeRO / checkpointing runner the parameters live in (training's, or evaluation's), or null.
  parallel::zero::BlockRunner* runner();

  const config::Config& config_;
  config::BatchSizes batch_;
  const parallel::Topology& topology_;
  const data::Dataset& dataset_;
  at::Device device_;
  std::unique_ptr<models::Recommender> model_;
  models::TowerRanges towers_;
  // The parameters this rank holds: every one, or its pipeline stage's (in block order).
  std::vector<std::pair<std::string, at::Tensor>> owned_;
  // The pipeline's cut (empty at pp = 1), this stage's blocks, every parameter's shape, dtype, stage and
  // block (the final save streams them in this order).
  parallel::StageCut cut_;
  models::Blocks stage_blocks_;
  struct ParameterSpec {
    std::string name;
    std::vector<int64_t> shape;
    at::ScalarType dtype;
    int stage;
    size_t block;
  };
  std::vector<ParameterSpec> parameter_specs_;
  int64_t item_embedding_width_ = 0;
  parallel::StageMemory planned_;
  parallel::PhaseMemory planned_phases_;
  std::unique_ptr<TrainingStep> training_;  // kTrain: holds the parameters; evaluation and saving go through it
  // kEvaluate under ZeRO-3: the units without an optimizer.
  std::unique_ptr<parallel::zero::BlockRunner> evaluation_runner_;
};

}  // namespace hllm::runtime
