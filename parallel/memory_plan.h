// MemoryPlan: what one rank of a pipeline stage is planned to hold during training, from the blocks' costs
// alone (models/layered_model.h: parameters and activation bytes per block for the configured shapes):
// - model states of the ZeRO stage over the stage's data-parallel ranks (parallel/zero/model_state_bytes.h);
// - the activations of the micro-batches in flight (1F1B: stage s of pp holds min(pp - s, m); GPipe: all m;
//   no pipeline: one), each every block's kept tensors, or with checkpointing the decoder layers' inputs
//   plus one layer's tensors while it recomputes;
// - the backward's gradients of one block's activations, beside that block's own;
// - ZeRO's buffers in flight (parallel/zero/block_runner.h): stage 3's gathered parameters (the unit that
//   computes and the prefetch window ahead of it), and at stages 1-3 the full gradients of the units whose
//   reduce-scatter is in flight (the unit just finished, its flattened copy, and two reductions pending);
//   at stage 0 over several ranks, the gradient averager's flat buckets (the gradients once more);
// - what a run keeps beside training: the best model's parameters (each rank its 1/dp, when validations
//   pick it) and a checkpoint's host snapshot (when saved in the background on the same memory).
// Pure: hllm_plan prints it, a run logs it at start and reports the measured peak beside it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "models/layered_model.h"
#include "parallel/pipeline/partition.h"

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
  double prefetch_elements = 5e7;    // stage 3: zero_optimization.stage3_prefetch_bucket_size
  double max_live_elements = 1e9;    // stage 3: zero_optimization.stage3_max_live_parameters
  bool keeps_best_model = false;     // validations during training keep the best parameters
  bool snapshots_checkpoints = false;  // a checkpoint's pieces are copied into this memory to be saved
};

// Bytes per rank.
struct StageMemory {
  double parameters = 0;        // elements held by the stage (whole, before sharding)
  double model_states = 0;
  double activations = 0;       // kept for the backward, at the step's peak
  double backward = 0;          // gradients of one block's activations
  double zero_buffers = 0;      // gathered parameters and full gradients in flight, at their peak
  double best_model = 0;
  double snapshot = 0;
  double micro_batches_in_flight = 1;
  double step() const { return model_states + activations + backward + zero_buffers; }
  double total() const { return step() + best_model + snapshot; }
};

// The pipeline's cut of a chain from its blocks' costs (forward FLOPs balanced, stages holding
// parameters; pipeline/partition.h choose_stage_cut): the one the runtime makes, --dry_run prints and
// hllm_plan plans.
StageCut choose_stage_cut(const std::vector<models::BlockCost>& costs, int stages, const std::vector<int64_t>& manual);

// Blocks [first, end) of `costs` as one stage.
StageMemory plan_stage_memory(const std::vector<models::BlockCost>& costs, size_t first, size_t end,
                              const MemoryPlanOptions& options);

// What evaluation runs beside training's state: the blocks at its shapes (a catalogue chunk, a batch of
// users: models::hllm_evaluation_shapes), and the catalogue every rank holds whole while it scores users.
struct EvaluationWork {
  std::vector<models::BlockCost> costs;  // the stage's blocks as training's, at the evaluation's shapes
  double catalogue_items = 0;            // 0 where unknown (hllm_plan without the dataset)
  double embedding_width = 0;            // the Item LLM's output width
  double users = 0;                      // users scored at once (train.eval_batch_size)
  int table_replicas = 1;                // replicas the table is split over (train.eval_catalogue sharded: dp)
};

// The most rows of the item table one of `replicas` holds (runtime/catalogue_layout.h: whole chunks of
// models::kCatalogueChunkItems; with the padding row).
double catalogue_rows_held(double items, int replicas);

// A rank's plan for each phase of a run (bytes): start-up (the model states being filled, a float32
// buffer of the largest block's values at a time: its 1/dp at stage 3), training (StageMemory::total),
// evaluation (the model states and the best model, stage 3's forward window, one block's work at the
// evaluation's shapes — without autograd, at most what it would keep — the rows of the catalogue it holds
// twice (as embedded and at unit length; all of them, or its slice when sharded), and the scores of a
// batch of users against them with their ranking's copies — sharded, one replica's batch at a time), and
// saving (the model states and the best model, and the largest block gathered and converted on its way to
// the file).
struct PhaseMemory {
  double start_up = 0, training = 0, evaluation = 0, saving = 0;
  double most() const;
};
PhaseMemory plan_phases(const std::vector<models::BlockCost>& costs, size_t first, size_t end,
                        const MemoryPlanOptions& options, const EvaluationWork& evaluation);

}  // namespace hllm::parallel
