#include "runtime/trainer.h"

#include <glog/logging.h>

#include <algorithm>
#include <filesystem>
#include <utility>

#include "checkpoint/checkpoint_reader.h"
#include "common/error.h"
#include "runtime/checkpoint_schedule.h"
#include "runtime/host_caching_allocator.h"
#include "runtime/lr_schedule.h"
#include "runtime/model_save.h"
#include "runtime/step_log.h"
#include "runtime/training_position.h"

namespace hllm::runtime {
namespace {

// Model selection, as in the paper: the best validation NDCG@200.
constexpr const char* kSelectionMetric = "ndcg@200";

// Host copies of state pieces (the best model: off the device, which holds only what training needs).
std::vector<checkpoint::StatePiece> host_copy(std::vector<checkpoint::StatePiece> pieces) {
  for (auto& piece : pieces) piece.values = piece.values.to(at::kCPU, /*non_blocking=*/false, /*copy=*/true);
  return pieces;
}

}  // namespace

Trainer::Trainer(const config::Config& config, const config::BatchSizes& batch, const parallel::Topology& topology,
                 const data::Dataset& dataset, std::string run_dir)
    : config_(config),
      batch_(batch),
      topology_(topology),
      dataset_(dataset),
      log_(std::move(run_dir), topology.rank() == 0),
      memory_(topology.placement().device),
      placement_(config, batch, topology, dataset, Purpose::kTraining),
      step_(config, placement_),
      evaluator_(config, topology, dataset, placement_) {
  memory_.end_phase(Phase::kStartUp, planned_for(Phase::kStartUp));
  log_.write_config(config);
}

TrainReport Trainer::train() {
  data::ShardedLoader loader(dataset_, loader_options());
  const int64_t accumulation = batch_.gradient_accumulation_steps;
  const int64_t steps_per_epoch = std::max<int64_t>(1, loader.batches_per_epoch() / accumulation);
  const int64_t total = config_.train.max_steps > 0 ? config_.train.max_steps : steps_per_epoch * config_.train.epochs;
  TrainReport report;
  // What a checkpoint holds: the model (with its optimizer), the position, the run's own state.
  TrainingPosition position(loader);
  RunState run(topology_, [this] { return step_.parameter_pieces(); });
  const std::vector<checkpoint::Stateful*> parts = {&step_, &position, &run};
  CheckpointSchedule checkpoints(config_, topology_, checkpoint_root(), saves_in_background(), stop_flag_);
  const int64_t first_step = resume(parts, position);
  report.resumed_from = first_step;
  if (first_step > 0 && topology_.rank() == 0) {
    LOG(INFO) << "resumed from " << resume_from_ << " at step " << first_step << " of " << total;
  }
  log_.start(first_step);
  StepLog steps(topology_, log_, progress_bar_, total);
  steps.name_towers(models::tower_names(placement_.recommender().tower_sizes()));
  // At a step boundary: a checkpoint when due; true when the run stops there (saved, not evaluated).
  const auto stops_at = [&](int64_t steps_done) {
    const CheckpointSchedule::Decision due = checkpoints.at_boundary(steps_done);
    if (due.save) {
      steps.clear_bar();
      run.totals.set_segment(steps.seconds(), topology_.world_size());
      position.steps_done = steps_done;
      checkpoints.save(checkpoint::save_parts(parts), steps_done);
    }
    return due.stop;
  };
  int64_t step = first_step;
  bool stopped = false;
  for (; step < total; ++step) {
    if (step > first_step && (stopped = stops_at(step))) break;
    const double lr = learning_rate(config_.scheduler, config_.optimizer.params.lr, step, total);
    const StepResult result = step_.run([&loader] { return loader.next(); }, accumulation, lr);
    if (!count_step(step, result, run, steps)) continue;
    report.local_losses.push_back(result.loss);
    const int64_t done = step + 1;
    if (done % config_.train.log_interval == 0 || done == total) {
      report.last_loss = steps.end_interval(done, loader.state().epoch, lr, &run.log);
    }
    steps.update_bar(done);
    if (config_.train.eval_interval > 0 && done % config_.train.eval_interval == 0 && done < total) {
      steps.clear_bar();
      validate(done, run);
    }
  }
  if (!stopped) stopped = stops_at(total);  // asked to stop during the last step: it is saved
  checkpoints.finish();
  steps.clear_bar();
  report.steps = stopped ? step : total;
  report.last_checkpoint = checkpoints.last_committed();
  report.skipped_steps = run.skipped_steps;
  report.first_loss = run.log.first_loss;
  report.seconds = steps.seconds();
  account(loader, run, &report);
  if (stopped) {
    report.preempted = true;
    if (topology_.rank() == 0) {
      LOG(WARNING) << "stopped at step " << step << " on request, checkpoint committed; resume with --resume auto";
    }
    return report;
  }
  report.samples_per_second =
      static_cast<double>((total - first_step) * batch_.train_batch_size) / std::max(report.seconds, 1e-9);
  return finish(std::move(report), run);
}

bool Trainer::count_step(int64_t step, const StepResult& result, RunState& run, StepLog& steps) {
  run.log.samples += result.samples;
  run.log.tokens += result.tokens;
  run.totals.add_step(result, placement_.recommender().tower_sizes().size(), topology_.world());
  if (result.skipped) {
    ++run.skipped_steps;
    if (++run.nan_in_a_row >= config_.train.max_nan_steps) {
      throw Error(detail::concat("step ", step, ": ", run.nan_in_a_row,
                                 " optimizer steps in a row had NaN or Inf gradients; stopping (train.max_nan_steps)"));
    }
    steps.clear_bar();
    LOG(WARNING) << "step " << step << ": non-finite gradients, step skipped";
    return false;
  }
  run.nan_in_a_row = 0;
  if (step == 0) log_model_states(step_.memory(), config_.zero_optimization.stage, config_.activation_checkpointing.policy);
  run.log.loss += result.loss;
  run.log.grad_norm += result.grad_norm;
  run.log.health.add(result.health);
  run.log.tower_grad_norms.resize(result.tower_grad_norms.size(), 0.0);
  for (size_t t = 0; t < result.tower_grad_norms.size(); ++t) run.log.tower_grad_norms[t] += result.tower_grad_norms[t];
  ++run.log.steps;
  return true;
}

void Trainer::account(const data::ShardedLoader& loader, RunState& run, TrainReport* report) const {
  run.totals.set_segment(report->seconds, topology_.world_size());
  report->totals = run.totals;
  report->towers = placement_.recommender().tower_sizes();
  report->training_windows = loader.total_windows();
  report->dataset_users = dataset_.num_users();
  report->dataset_items = dataset_.num_items();
  report->dataset_interactions = dataset_.meta().at("num_interactions").get<int64_t>();
}

void Trainer::validate(int64_t steps_done, RunState& run) {
  const auto valid = evaluator_.evaluate(data::EvalSplit::kValid);
  log_.metrics("valid", steps_done, valid);
  if (run.best.step == 0 || valid.at(kSelectionMetric) > run.best.valid.at(kSelectionMetric)) {
    // The same decision on every rank (all saw the same metrics); each keeps its own share.
    run.best = {};
    // The copy lives for the rest of the run: mapped at its own size, not in the cache's larger blocks.
    release_cached_host_memory();
    run.best = {steps_done, valid, host_copy(step_.parameter_pieces())};
  }
}

TrainReport Trainer::finish(TrainReport report, const RunState& run) {
  // The best model by valid NDCG@200 (the last one unless an earlier validation beat it) is tested and
  // kept. The parameters stay as training holds them (ZeRO-3: sharded; evaluation and saving go block by
  // block).
  report.memory = step_.memory();
  memory_.end_phase(Phase::kTraining, planned_for(Phase::kTraining));
  at::Tensor catalog = evaluator_.catalog_embeddings();  // embedded once for both splits
  report.valid = evaluator_.evaluate(catalog, data::EvalSplit::kValid);
  report.best_step = report.steps;
  log_.metrics("valid", report.steps, report.valid);
  const BestModel& best = run.best;
  if (best.step > 0 && best.valid.at(kSelectionMetric) > report.valid.at(kSelectionMetric)) {
    step_.restore_parameters(best.parameters);
    catalog = evaluator_.catalog_embeddings();
    report.valid = best.valid;
    report.best_step = best.step;
  }
  report.test = evaluator_.evaluate(catalog, data::EvalSplit::kTest);
  log_.metrics("test", report.best_step, report.test);  // the test record carries the step of the tested model
  report.popularity_test = evaluator_.evaluate_popularity(data::EvalSplit::kTest);
  report.cold_items = evaluator_.cold_items();
  report.cold_items_note = evaluator_.cold_items_note();
  memory_.end_phase(Phase::kEvaluation, planned_for(Phase::kEvaluation));
  if (!log_.dir().empty()) {  // rank 0 writes the parameters (hllm_eval reads them back)
    if (topology_.rank() == 0) std::filesystem::create_directories(log_.dir() + "/model");
    save_model(placement_, log_.dir() + "/model/model.safetensors");
  }
  memory_.end_phase(Phase::kSaving, planned_for(Phase::kSaving));
  report.peak = memory_.gather(topology_.world(), placement_.planned_phases().most());  // the whole run's
  log_.write_report(report, config_, topology_);
  return report;
}

int64_t Trainer::resume(const std::vector<checkpoint::Stateful*>& parts, const TrainingPosition& position) {
  if (resume_from_.empty()) return 0;
  const checkpoint::Checkpoint from(resume_from_);
  checkpoint::load_parts(parts, from);
  return position.steps_done;
}

data::LoaderOptions Trainer::loader_options() const {
  data::LoaderOptions options;
  options.max_item_list_len = config_.data.max_item_list_len;
  options.micro_batch = batch_.micro_batch_per_rank;
  options.num_negatives = config_.data.num_negatives;
  options.seed = static_cast<uint64_t>(config_.seed);
  options.dp_rank = topology_.dp_index();
  options.dp_size = topology_.dp();
  options.read_item_tokens = placement_.recommender().reads_item_tokens();
  // Under pp only the first stage reads batches; the others keep the loader for its counts and position.
  if (!topology_.is_first_stage()) options.prefetch = 0;
  return options;
}

bool Trainer::saves_in_background() const {
  const config::AsyncSave mode = config_.checkpoint.async_save;
  return mode == config::AsyncSave::kOn || (mode == config::AsyncSave::kAuto && !placement_.device().is_cpu());
}

std::string Trainer::checkpoint_root() const {
  if (!config_.checkpoint.dir.empty()) return config_.checkpoint.dir;
  return (log_.dir().empty() ? std::string("runs/") + config_.name : log_.dir()) + "/checkpoints";
}

double Trainer::planned_for(Phase phase) const {
  const parallel::PhaseMemory& plan = placement_.planned_phases();
  switch (phase) {
    case Phase::kStartUp: return plan.start_up;
    case Phase::kEvaluation: return plan.evaluation;
    case Phase::kSaving: return plan.saving;
    case Phase::kTraining:  // training holds its validations too
      return config_.train.eval_interval > 0 ? std::max(plan.training, plan.evaluation) : plan.training;
  }
  return plan.training;
}

}  // namespace hllm::runtime
