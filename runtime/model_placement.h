// ModelPlacement: the recommender as this rank holds it under the run's layout. It is built once and used
// by training (runtime/training_step.h adds the optimizer on top), evaluation (runtime/evaluator.h), serving
// (hllm_eval, hllm_embed, hllm_recommend) and saving (runtime/model_save.h), so none of them derives the
// layout again:
//   - the model, built as placeholders (HLLM) in the compute dtype on the rank's device;
//   - its chain of blocks (built once, with the negatives' gather over the data-parallel group), the pipeline
//     cut (balanced by the blocks' estimated FLOPs, or parallel.pipeline_cut) and this stage's blocks; the
//     other stages' parameters are freed;
//   - the BlockRunner the stage's parameters live in (ZeRO units, recomputed blocks), or none;
//   - values given only where this rank keeps them (ZeRO-3: its shards; otherwise the stage's parameters
//     whole), so no rank ever holds the whole model;
//   - the plan: this rank's memory per phase (parallel/memory_plan.h), as hllm_plan computes it.
// Device tensors cross ranks through the topology's device groups (NCCL on GPUs), host scalars through its
// host groups.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/config/batch_sizes.h"
#include "common/config/config.h"
#include "data/dataset.h"
#include "models/parameter_source.h"
#include "models/recommender.h"
#include "parallel/memory_plan.h"
#include "parallel/pipeline/partition.h"
#include "parallel/topology.h"
#include "parallel/zero/block_runner.h"

namespace hllm::runtime {

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// What the parameters are held for. Training: through a BlockRunner for ZeRO stages 1-3, activation
// checkpointing or a pipeline stage, else whole for the model's own forward. Evaluating saved parameters
// alone: as training would hold them for memory (ZeRO-3: HLLM's shards, gathered block by block; otherwise
// the stage's parameters whole), with no gradients, recomputation or optimizer state.
enum class Purpose { kTraining, kEvaluation };

// What the plan and the pipeline's cut know of the run besides the model.
struct RunShapes {
  int64_t micro_batch_per_rank = 1;
  int64_t micro_batches = 1;  // per optimizer step (gradient accumulation)
  int64_t prompt_tokens = 0;
  int64_t text_tokens = 0;
  int64_t catalogue_items = 0;
};

// A model before it is placed: built without values (HLLM's placeholders, models/parameter_source.h) or
// with its own, where its values come from (null: its own), and the run's shapes.
struct UnplacedModel {
  std::unique_ptr<models::Recommender> model;
  std::unique_ptr<models::ParameterSource> values;
  RunShapes shapes;
};

// The run's model for `dataset` (its vocabulary, prompt, text length and catalogue), on `device`, in the
// compute dtype: the towers from the config (presets, shapes or Hugging Face directories), or with
// `saved_model` (a directory a run's save wrote) the values of that run instead; a missing or mis-shaped
// tensor there is an InputError naming the file and tensor.
UnplacedModel model_for_dataset(const config::Config& config, const config::BatchSizes& batch,
                                const data::Dataset& dataset, const at::Device& device,
                                const std::string& saved_model = "");

class ModelPlacement {
 public:
  // Throws InputError for a configuration this build cannot run. Collective: under ZeRO-3 each rank fills
  // only its shards as the model is placed. `config` and `topology` must outlive this.
  ModelPlacement(const config::Config& config, const parallel::Topology& topology, Purpose purpose,
                 UnplacedModel unplaced);
  // model_for_dataset(config, batch, dataset, the topology's device, saved_model), placed.
  ModelPlacement(const config::Config& config, const config::BatchSizes& batch, const parallel::Topology& topology,
                 const data::Dataset& dataset, Purpose purpose, const std::string& saved_model = "");
  ~ModelPlacement();
  ModelPlacement(const ModelPlacement&) = delete;
  ModelPlacement& operator=(const ModelPlacement&) = delete;

  // Runs the chain's blocks [first, end) without autograd: through the stages that hold them under pp
  // (each stage calls it alike; `consumed` are dropped before activations cross a stage), through the
  // runner (ZeRO-3: gathered block by block). Returns the activations after block end - 1 on the stage that
  // runs it, an empty map elsewhere. Collective over the stage's data-parallel group.
  models::Activations forward(size_t first, size_t end, models::Activations inputs,
                              const std::vector<std::string>& consumed = {});
  // The stage that runs `block` of the chain (0 without a pipeline).
  int stage_of_block(size_t block) const;
  // An ID model (SASRec, HSTU: one block, evaluated by its own methods) whole under ZeRO-3, or sharded
  // again; nothing otherwise. Collective.
  void gather_id_model(bool whole);
  // This stage's block `b` (an index within the stage) whole under ZeRO-3, and sharded again; nothing where
  // the block's parameters are whole anyway. Collective over the stage's data-parallel group.
  void gather_block(size_t b);
  void release_block(size_t b);

  models::Recommender& recommender() { return *model_; }
  const models::Recommender& recommender() const { return *model_; }
  const parallel::Topology& topology() const { return topology_; }
  const models::TowerRanges& towers() const { return towers_; }
  const at::Device& device() const { return device_; }
  // The width of an item embedding (HLLM: the Item LLM's hidden size) and the options of one as this rank's
  // stage computes it.
  int64_t item_embedding_width() const { return item_embedding_width_; }
  at::TensorOptions item_embedding_options() const;
  // The negatives' all_gather (with gradient) over the data-parallel group; empty at dp = 1.
  const models::NegativeGather& negative_gather() const { return gather_; }

  // Pipeline parallelism: the stage cut (empty with pp = 1), this stage's blocks (every block at pp = 1) and
  // their runner (ZeRO units, recomputed blocks), or null when the stage's parameters are simply whole.
  const parallel::StageCut& stage_cut() const { return cut_; }
  size_t first_block() const { return topology_.pp() > 1 ? cut_.first[topology_.stage_id()] : 0; }
  models::Blocks& blocks() { return blocks_; }
  parallel::zero::BlockRunner* runner() { return runner_.get(); }
  // The ZeRO stage the parameters are held at, decided here once: the configured stage for training; for
  // evaluation alone 3 (HLLM under ZeRO-3) or 0 (whole). Stages above 0 have a runner.
  int zero_stage() const { return zero_stage_; }
  // What an optimizer updates: every parameter in the model's own order at pp = 1 (the order of its
  // gradient buckets and Adam state since the first version), this stage's in block order under pp.
  const NamedTensors& trained_parameters() const { return trained_; }
  // This stage's parameters in block order.
  const NamedTensors& held_parameters() const { return held_; }

  // Every parameter of the chain, in block order, with its shape, dtype, stage and block: what a save
  // streams.
  struct ParameterSpec {
    std::string name;
    std::vector<int64_t> shape;
    at::ScalarType dtype;
    int stage;
    size_t block;
  };
  const std::vector<ParameterSpec>& parameter_specs() const { return specs_; }

  // This rank's plan: the training step, and every phase of the run.
  const parallel::StageMemory& planned_step() const { return planned_; }
  const parallel::PhaseMemory& planned_phases() const { return planned_phases_; }

 private:
  // The cut of the chain by the blocks' costs, logged (rank 0) with each stage's share and memory.
  void cut_pipeline(const models::Blocks& chain, const std::vector<models::BlockCost>& costs, const RunShapes& shapes);
  // This stage's blocks and parameters kept, every parameter's spec recorded, the other stages' freed.
  void keep_stage_blocks(models::Blocks chain);
  // The runner this purpose needs, or none; then the values of what no runner holds.
  void hold_parameters(Purpose purpose, const models::ParameterFill& fill);
  parallel::MemoryPlanOptions memory_plan_options(const RunShapes& shapes) const;
  void plan_phases(const std::vector<models::BlockCost>& costs, std::vector<models::BlockCost> evaluation_costs,
                   const RunShapes& shapes);
  // Runs this stage's blocks [first, end) (indices within the stage) without autograd.
  void run_stage_blocks(size_t first, size_t end, models::Activations& activations);

  const config::Config& config_;
  const parallel::Topology& topology_;
  at::Device device_;
  std::unique_ptr<models::Recommender> model_;
  models::TowerRanges towers_;
  models::NegativeGather gather_;
  parallel::StageCut cut_;
  models::Blocks blocks_;
  NamedTensors held_;
  NamedTensors trained_;
  std::vector<ParameterSpec> specs_;
  int64_t item_embedding_width_ = 0;
  std::unique_ptr<parallel::zero::BlockRunner> runner_;
  int zero_stage_ = 0;
  parallel::StageMemory planned_;
  parallel::PhaseMemory planned_phases_;
};

}  // namespace hllm::runtime
