// Trainer: a recommender's training run (HLLM, SASRec or HSTU) on this rank, in one loop: train.epochs
// (or train.max_steps) optimizer steps (TrainingStep on the ModelPlacement) with the warmup schedule, a validation every
// train.eval_interval steps (the best by valid NDCG@200 kept as each rank's share of the parameters),
// checkpoints by CheckpointSchedule, every step judged by the training guards before it is applied (a trip
// rolls back to the last committed checkpoint and skips the step's windows, runtime/training_guard.h and
// README "Training health"; past train.guard.max_rollbacks the run stops, report.stopped_by_guard); then the
// best model tested (valid, test, popularity), saved block by block (model/model.safetensors) and the
// run's report written (RunLog), with every rank's peak memory per phase beside its plan (RunMemory).
// Everything the run carries between steps is in its checkpoints: a resumed run continues bit for bit,
// on any dp, pp or ZeRO stage.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "checkpoint/stateful.h"
#include "common/config/batch_sizes.h"
#include "common/config/config.h"
#include "data/dataset.h"
#include "data/sharded_loader.h"
#include "parallel/topology.h"
#include "runtime/evaluator.h"
#include "runtime/incident_journal.h"
#include "runtime/model_placement.h"
#include "runtime/run_log.h"
#include "runtime/run_memory.h"
#include "runtime/run_state.h"
#include "runtime/training_step.h"

namespace hllm::runtime {

class StepLog;
class TrainingPosition;

class Trainer {
 public:
  // `run_dir` empty: write nothing (tests). Throws InputError for a configuration this build cannot run.
  // Collective (places the model).
  Trainer(const config::Config& config, const config::BatchSizes& batch, const parallel::Topology& topology,
          const data::Dataset& dataset, std::string run_dir);

  // The run, as described above. Rank 0 prints progress and writes metrics.jsonl, report.json and the
  // tested parameters. Collective.
  TrainReport train();

  // train() continues from this committed checkpoint (written by a run of the same model, on any layout):
  // parameters, optimizer, loader position, step, best model.
  void resume_from(std::string checkpoint_directory) { resume_from_ = std::move(checkpoint_directory); }
  // When *flag becomes non-zero on any rank, train() commits a checkpoint at the next step boundary and
  // returns with report.preempted (the launcher's SIGTERM / SIGUSR1 handler sets it).
  void stop_when(const std::atomic<int>* flag) { stop_flag_ = flag; }
  // Rank 0 draws a live progress bar during train() (runtime/progress.h); off by default.
  void show_progress_bar(bool show) { progress_bar_ = show; }
  // Where checkpoints go: checkpoint.dir, or <run_dir>/checkpoints.
  std::string checkpoint_root() const;
  // checkpoint.async_save resolved for this run's device.
  bool saves_in_background() const;

  ModelPlacement& model() { return placement_; }
  TrainingStep& training_step() { return step_; }
  Evaluator& evaluator() { return evaluator_; }

 private:
  data::LoaderOptions loader_options() const;
  // From resume_from_: every part a checkpoint holds; returns the step to start at (0 without a resume).
  int64_t resume(const std::vector<checkpoint::Stateful*>& parts, const TrainingPosition& position);
  // The estimated training FLOPs of a step's samples on this rank (models/training_work.h).
  double step_flops(const StepResult& result) const;
  // A step's samples, tokens and work, into the interval and the run's totals (applied or not: it was computed).
  void count_work(const StepResult& result, RunState& run) const;
  // An applied step's loss, gradient norm and health, into the open log interval.
  void count_step(int64_t step, const StepResult& result, RunState& run) const;
  struct TripContext;
  // A guard's trip at `step` (whose batches started at `step_start`) answered: the incident recorded, and
  // the run rolled back (the incident's rolled_back_to), the step skipped, or report.stopped_by_guard set.
  // Collective.
  Incident respond_to_trip(const Trip& trip, int64_t step, data::LoaderState step_start, TripContext& loop);
  // What a guard's trip leads to (README "Training health"): a rollback to `checkpoint` while
  // train.guard.max_rollbacks allow, then a stop; with no checkpoint (or no rollbacks allowed) the step is
  // skipped — non-finite ones counted towards train.max_nan_steps — and a collapse stops the run.
  GuardAction choose_action(const Trip& trip, const std::string& checkpoint, int rollbacks, RunState& run) const;
  // The loader skips `more` too.
  void skip_windows(data::ShardedLoader& loader, const data::SkippedWindows& more) const;
  std::string incident_line(const Incident& incident) const;  // metrics.jsonl's
  void say_incident(const Incident& incident, int rollbacks) const;  // rank 0's warning
  // report.stopped_by_guard: the step, the metric, its value and threshold, the windows, how to go on.
  std::string stop_message(const Incident& incident, int rollbacks, const std::string& checkpoint) const;
  // The run's totals of work and time (this segment's `report->seconds` added) and the sizes that turn them
  // into FLOPs, into the report.
  void account(const data::ShardedLoader& loader, RunState& run, TrainReport* report) const;
  // The validation after `steps_done` steps, logged; the best model kept.
  void validate(int64_t steps_done, RunState& run);
  // After the last step: the best model tested, saved and reported.
  TrainReport finish(TrainReport report, const RunState& run);
  // report.json's "evaluation" and its line: the catalogue's embedding and the users' ranking, timed.
  // `embeddings`: how many times the catalogue was embedded (twice when an earlier validation's model won).
  void describe_evaluation(const CatalogueShard& catalogue, int embeddings, double embedding_seconds,
                           double ranking_seconds, TrainReport* report) const;
  double planned_for(Phase phase) const;

  const config::Config& config_;
  config::BatchSizes batch_;
  const parallel::Topology& topology_;
  const data::Dataset& dataset_;
  RunLog log_;
  RunMemory memory_;  // before the model: the process's own resident set is its baseline
  ModelPlacement placement_;
  TrainingStep step_;  // the optimizer on top of the placement
  Evaluator evaluator_;
  bool progress_bar_ = false;
  std::string resume_from_;
  const std::atomic<int>* stop_flag_ = nullptr;
};

}  // namespace hllm::runtime
