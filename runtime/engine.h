// Engine: trains and evaluates a recommender (HLLM, SASRec or HSTU) with data parallelism:
// each data-parallel rank reads its own batches, negatives are gathered across the group with gradient,
// gradients are averaged in buckets, clipped, checked for NaN/Inf (the step is skipped; too many in a row
// is an error), and AdamW steps with the warmup schedule. Evaluation follows the paper's protocol: the
// catalogue is embedded once, split across all ranks and all-gathered; users are split across all ranks;
// full ranking with history masking.
//
// Device: the rank's placement (topology.placement().device, "cpu" or "cuda:<i>"). The model and every
// batch tensor live there; tensors cross ranks through DeviceGroups (NCCL on GPUs), host-side sums (loss,
// sample counts, metric sums) through the topology's own communicators (MPI).
//
// One optimizer step is runtime/TrainingStep: at ZeRO stage 0 gradients are averaged in buckets whose
// all_reduce starts during the last micro-batch's backward (GradientAverager with overlap).
//
// bf16.enabled (HLLM): the LLMs compute in bfloat16 (norms, softmax and the loss in float32); gradients are
// added into float32 master weights, which clipping, the NaN guard and AdamW work on.
//
// ZeRO stages 1-3 (zero_optimization.stage) and activation checkpointing (HLLM's decoder layers) run the
// model as blocks through parallel/zero/BlockRunner, with AdamW on this rank's shards (ZeroOptimizer).
// Evaluation runs HLLM's blocks through the same runner (ZeRO-3: gathered block by block, never the whole
// model), the best model is kept as each rank's share of the parameters, and the final save streams the
// model block by block to rank 0's writer. The model states a rank holds are measured in the first step
// (TrainReport::memory); every rank's peak over the whole run beside its plan (parallel/memory_plan.h) at
// the end (TrainReport::peak); both are logged and in report.json.
//
// Checkpoints (checkpoint/): saved asynchronously every checkpoint.interval_steps / interval_minutes and
// when stop_when()'s flag is raised on any rank (then train() returns with report.preempted);
// resume_from() continues exactly from one, on any dp size or ZeRO stage.
//
// Pipeline parallelism (parallel.pp > 1, HLLM): the chain of blocks is cut into pp stages (balanced by the
// blocks' estimated FLOPs for the configured shapes, or parallel.pipeline_cut), printed at start. A rank
// holds and trains only its stage's parameters (the others' storage is freed), runs micro-batches by the
// configured schedule (TrainingStep), and evaluates by passing catalogue chunks and users through the
// stages (parallel/pipeline/pipeline_forward.h). Checkpoints name global tensors, so a run resumes at
// another pp.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/config/batch_sizes.h"
#include "common/config/config.h"
#include "data/dataset.h"
#include "data/eval_loader.h"
#include "models/recommender.h"
#include "parallel/memory_plan.h"
#include "parallel/pipeline/partition.h"
#include "parallel/pipeline/pipeline_forward.h"
#include "parallel/topology.h"
#include "runtime/training_step.h"

namespace hllm::runtime {

struct TrainReport {
  int64_t steps = 0;
  int64_t skipped_steps = 0;
  double seconds = 0;
  double samples_per_second = 0;  // all ranks
  double first_loss = 0;          // mean over the first log interval
  double last_loss = 0;           // mean over the last log interval
  int64_t best_step = 0;  // the step whose parameters were tested and saved (best valid NDCG@200)
  std::map<std::string, double> valid;  // of the best step
  std::map<std::string, double> test;
  std::map<std::string, double> popularity_test;  // the baseline: items ranked by training frequency
  std::vector<double> local_losses;  // every step's loss on this rank's own micro-batches (since the resume)
  int64_t resumed_from = 0;          // the checkpoint's step, 0 when the run started fresh
  bool preempted = false;            // stopped on request after committing a checkpoint; no evaluation ran
  std::string last_checkpoint;       // the newest checkpoint this run committed ("" if none)
  MemoryReport memory;
  // Measured over the whole run, one entry per world rank: the resident-set high-water mark, the resident
  // set before the model was built (the process itself), the most bytes its tensors held at once (CUDA's
  // max allocated, or the host caching allocator's; -1 where neither counts), the rank's plan
  // (parallel/memory_plan.h, as hllm_plan computes it), and the high-water mark of each
  // phase on its own (start-up: building the model; training: the steps with their validations and
  // checkpoints; evaluation: the final valid and test; saving: the final model).
  struct PeakMemory {
    std::vector<double> peak_rss, baseline_rss, peak_tensors, planned;
    std::map<std::string, std::vector<double>> phase_rss, phase_tensors, phase_planned;
  } peak;
};

// Communicators for tensors on the training device, over the same ranks as the topology's world and
// data-parallel group: NCCL ones on GPUs (the launcher makes them). Left null, the topology's own serve
// (CPU tensors); a group of one rank needs none.
struct DeviceGroups {
  parallel::Communicator* world = nullptr;
  parallel::Communicator* dp = nullptr;
  parallel::Communicator* pp = nullptr;
};

// What an engine is made for: training (the parameters as training holds them from the start: ZeRO-3
// shards, a pipeline stage's blocks) or evaluating saved parameters alone (hllm_eval: the stage's
// parameters whole, no optimizer state).
enum class EngineUse { kTrain, kEvaluate };

class Engine {
 public:
  // `run_dir` empty: write nothing (tests). Throws InputError for a configuration this build cannot run.
  // Collective: under ZeRO-3 each rank fills only its shards of the model as it is built.
  Engine(const config::Config& config, const config::BatchSizes& batch, const parallel::Topology& topology,
         const data::Dataset& dataset, std::string run_dir, DeviceGroups device_groups = {},
         EngineUse use = EngineUse::kTrain);

  // Trains for train.epochs (or train.max_steps), validates every train.eval_interval steps and at the end,
  // then tests the best model by valid NDCG@200 (the last one unless an earlier validation beat it: its
  // parameters are kept in host memory). Rank 0 prints progress and writes metrics.jsonl, report.json and
  // the tested parameters (model/model.safetensors, by name). Collective.
  TrainReport train();

  // Replaces the parameters with those saved by train() in `directory` (model.safetensors); throws
  // InputError naming the file and tensor when one is missing or of another shape.
  void load_parameters(const std::string& directory);

  // Recall@K / NDCG@K (K = 5, 10, 50, 200) of the current parameters. Collective over the world.
  std::map<std::string, double> evaluate(data::EvalSplit split);
  // The same metrics for the popularity baseline: every user gets the items ranked by how often they occur
  // in the training part of all sequences. Collective.
  std::map<std::string, double> evaluate_popularity(data::EvalSplit split);

  const models::Recommender& model() const { return *model_; }
  // Host float32 copies of every parameter in the model's order: those this rank's stage holds (under
  // ZeRO-3 gathered unit by unit, so the stage's whole model is built on the host), empty tensors for
  // another pipeline stage's. Collective over the stage's data-parallel group. For tests and small models.
  std::vector<at::Tensor> parameter_copies();
  // Pipeline parallelism: the stage cut (empty with pp = 1).
  const parallel::StageCut& stage_cut() const { return cut_; }
  // train() continues from this committed checkpoint (a directory written by a run of the same model, on
  // any data-parallel size or ZeRO stage): parameters, optimizer, loader position, step, best model.
  void resume_from(std::string checkpoint_directory) { resume_from_ = std::move(checkpoint_directory); }
  // When *flag becomes non-zero on any rank, train() commits a checkpoint at the next step boundary and
  // returns with report.preempted (the launcher's SIGTERM / SIGUSR1 handler sets it).
  void stop_when(const std::atomic<int>* flag) { stop_flag_ = flag; }
  // Where checkpoints go: checkpoint.dir, or <run_dir>/checkpoints.
  // checkpoint.async_save resolved for this run's device.
  bool saves_in_background() const;
  std::string checkpoint_root() const;

  // Rank 0 draws a live progress bar during train() (runtime/progress.h); off by default.
  void show_progress_bar(bool show) { progress_bar_ = show; }

 private:
  // Pipeline: the cut of `blocks` by their costs, logged; this rank's plan.
  void set_up_pipeline(const models::Blocks& blocks, const std::vector<models::BlockCost>& costs);
  // This stage's blocks (all at pp = 1) and parameters kept, every parameter's spec recorded, the other
  // stages' parameters freed.
  void keep_stage_blocks(models::Blocks blocks);
  int stage_of_block(size_t block) const;
  // The memory plan's settings for this run (the stage left 0) and the shapes it is computed for.
  parallel::MemoryPlanOptions memory_plan_options() const;
  models::ModelShapes planned_shapes(int64_t prompt_tokens) const;
  // planned_phases_ from the blocks' costs at training's and evaluation's shapes (this rank's stage).
  void plan_phases(const std::vector<models::BlockCost>& costs, std::vector<models::BlockCost> evaluation_costs);
  double planned_for(const std::string& phase) const;
  // Every rank's measured peaks beside its plan (gathered over the world); rank 0 logs them.
  TrainReport::PeakMemory measure_peaks() const;
  // Ends a phase of the run: records its resident-set high-water mark and starts the next one's.
  void end_phase(const char* phase);
  runtime::PipelineStage pipeline_stage();
  // Runs this stage's blocks [first, end) without autograd (evaluation): through training's BlockRunner
  // once train() made one (ZeRO-3 gathers block by block), else plainly.
  parallel::RunStageBlocks run_stage_blocks();
  // An ID model (SASRec, HSTU: one block) whole for its evaluation under ZeRO-3, and sharded again.
  void gather_id_model(bool whole);
  at::Tensor catalog_embeddings();  // [num_items + 1, D], row 0 zero; the same on every rank
  std::map<std::string, double> evaluate_with(const at::Tensor& catalog, data::EvalSplit split);
  // Ranks every evaluation user with score_rows(batch) -> [B, num_items + 1] (undefined on a pipeline stage
  // that does not score); metrics summed over ranks.
  std::map<std::string, double> rank_users(data::EvalSplit split,
                                           const std::function<at::Tensor(const data::EvalBatch&)>& score_rows);
  // model.safetensors with every parameter (under pp, gathered stage by stage to rank 0). Collective.
  void save_model(const std::string& path);
  // Rank 0's records: metrics.jsonl started (or, resumed, cut back to the checkpoint's step), a line, a
  // split's metrics, the first step's memory (logged), report.json.
  void start_metrics_log(int64_t first_step);
  void log_record(const std::string& json_line);
  void log_metrics(const char* split, int64_t step, const std::map<std::string, double>& metrics);
  void log_memory(const MemoryReport& memory) const;
  void write_report(const TrainReport& report) const;

  const config::Config& config_;
  config::BatchSizes batch_;
  const parallel::Topology& topology_;
  const data::Dataset& dataset_;
  std::string run_dir_;
  at::Device device_;
  parallel::Communicator& tensor_world_;  // for device tensors (DeviceGroups)
  parallel::Communicator& tensor_dp_;
  parallel::Communicator& tensor_pp_;
  std::unique_ptr<models::Recommender> model_;
  // The parameters this rank holds: every one, or its pipeline stage's (in block order).
  std::vector<std::pair<std::string, at::Tensor>> owned_;
  // The pipeline's cut (empty at pp = 1), this stage's blocks (evaluation), HLLM's landmarks in the chain,
  // every parameter's shape, dtype, stage and block (the final save), the catalogue's width.
  parallel::StageCut cut_;
  models::Blocks stage_blocks_;
  size_t item_end_ = 0, user_begin_ = 0, user_end_ = 0;
  struct ParameterSpec {
    std::string name;
    std::vector<int64_t> shape;
    at::ScalarType dtype;
    int stage;
    size_t block;
  };
  std::vector<ParameterSpec> parameter_specs_;
  int64_t catalog_width_ = 0;
  parallel::StageMemory planned_;  // this rank's plan of the training step
  parallel::PhaseMemory planned_phases_;  // and of every phase of the run
  int64_t baseline_rss_ = 0;       // the process's resident set before the model was built
  struct PhasePeak {
    std::string phase;
    int64_t resident = 0;  // VmHWM over the phase
    int64_t tensors = 0;   // the most its tensors held at once (-1 where not counted)
  };
  std::vector<PhasePeak> phase_peaks_;  // in the order the phases ended
  bool progress_bar_ = false;
  std::unique_ptr<TrainingStep> training_;  // kTrain: holds the parameters; evaluation and saving go through it
  std::string resume_from_;
  const std::atomic<int>* stop_flag_ = nullptr;
};

}  // namespace hllm::runtime
