#include "runtime/trainer.h"

#include <glog/logging.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <optional>
#include <sstream>
#include <utility>

#include "checkpoint/checkpoint_reader.h"
#include "common/error.h"
#include "runtime/checkpoint_schedule.h"
#include "runtime/host_caching_allocator.h"
#include "runtime/lr_schedule.h"
#include "runtime/model_save.h"
#include "runtime/step_log.h"
#include "runtime/training_position.h"
#include "runtime/fault_injection.h"
#include "parallel/comm/broadcast_string.h"
#include "parallel/comm/recorded_communicator.h"
#include "runtime/step_census.h"

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

// What a trip acts on: train()'s own state.
struct Trainer::TripContext {
  data::ShardedLoader& loader;
  CheckpointSchedule& checkpoints;
  IncidentJournal& journal;
  const std::vector<checkpoint::Stateful*>& parts;
  TrainingPosition& position;
  RunState& run;
  TrainReport& report;
  std::vector<int64_t>& loss_steps;
  int& rollbacks;
  int64_t accumulation;
};

TrainReport Trainer::train() {
  data::ShardedLoader loader(dataset_, loader_options());
  const int64_t accumulation = batch_.gradient_accumulation_steps;
  const int64_t total = run_steps(config_.train, loader.batches_per_epoch(), accumulation);
  check_fault_step(config_.debug, total);
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
  // The guards' incidents over every launch: a resumed run keeps skipping what earlier ones skipped.
  IncidentJournal journal(checkpoint_root() + "/incidents.json", topology_.rank() == 0);
  journal.start(!resume_from_.empty(), topology_.world());
  skip_windows(loader, journal.skipped());
  TrainingGuard guard(config_.train.guard);
  const FaultInjection fault(config_.debug, journal);
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
  std::vector<int64_t> loss_steps;  // the step of each of report.local_losses (a rollback drops later ones)
  int rollbacks = 0;
  TripContext loop{loader, checkpoints, journal, parts, position, run, report, loss_steps, rollbacks, accumulation};
  int64_t step = first_step, boundary_after = first_step;
  bool stopped = false;
  for (; step < total; ++step) {
    if (step > boundary_after && (stopped = stops_at(step))) break;
    const double lr = learning_rate(config_.scheduler, config_.optimizer.params.lr, step, total) * journal.lr_scale();
    const data::LoaderState step_start = loader.state();
    const bool collapse = fault.collapses(step);
    const double waited_before = parallel::seconds_waited();
    const auto started = std::chrono::steady_clock::now();
    const StepResult result = step_.compute(
        [&loader, collapse] {
          data::Batch batch = loader.next();
          if (collapse) collapse_items(&batch);
          return batch;
        },
        accumulation, fault.loss_factor(step));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    // Every rank's account of the step, on every rank: the guards judge it, the balance meter counts it.
    const std::vector<RankStep> census = gather_step_census(
        RankStep::of(result, step_flops(result), seconds, parallel::seconds_waited() - waited_before), topology_.world());
    const GuardReading reading = GuardReading::of(census);
    const Trip trip = guard.judge(reading, run.guard);
    if (!trip && reading.samples > 0) {
      step_.apply(lr);
    } else {
      step_.discard();
    }
    if (!trip) run.balance.add(census);
    count_work(result, run);
    if (trip) {
      steps.clear_bar();
      const Incident incident = respond_to_trip(trip, step, step_start, loop);
      if (incident.action == GuardAction::kStop) break;
      if (incident.action == GuardAction::kRollBack) {
        step = incident.rolled_back_to - 1;  // the loop's ++ brings it to the checkpoint's step
        boundary_after = incident.rolled_back_to;  // that boundary was the checkpoint: not saved again
      }
      continue;  // rolled back, or the step skipped
    }
    if (reading.samples == 0) {  // every window of the step skipped: no update, nothing to log
      ++run.skipped_steps;
      continue;
    }
    count_step(step, result, run);
    report.local_losses.push_back(result.loss);
    loss_steps.push_back(step);
    const int64_t done = step + 1;
    if (done % config_.train.log_interval == 0 || done == total) {
      report.last_loss = steps.end_interval(done, loader.state().epoch, lr, &run.log, run.balance.end_interval());
    }
    steps.update_bar(done);
    if (config_.train.eval_interval > 0 && done % config_.train.eval_interval == 0 && done < total) {
      steps.clear_bar();
      validate(done, run);
    }
  }
  const bool guard_stopped = !report.stopped_by_guard.empty();
  if (!stopped && !guard_stopped) stopped = stops_at(total);  // asked to stop during the last step: it is saved
  checkpoints.finish();
  steps.clear_bar();
  report.steps = stopped || guard_stopped ? step : total;
  report.last_checkpoint = checkpoints.last_committed();
  report.skipped_steps = run.skipped_steps;
  report.first_loss = run.log.first_loss;
  report.seconds = steps.seconds();
  report.guard = journal.to_json();
  report.guard["rollbacks"] = rollbacks;
  report.guard["observed"] = guard.observed();
  report.balance = run.balance.report();
  report.balance_summary = run.balance.summary();
  account(loader, run, &report);
  if (guard_stopped) return report;  // no report.json, as after a preemption: nothing was evaluated
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


Incident Trainer::respond_to_trip(const Trip& trip, int64_t step, data::LoaderState step_start, TripContext& loop) {
  Incident incident;
  incident.step = step;
  incident.trip = trip;
  incident.windows = loop.loader.windows_of(step_start, loop.accumulation);
  // Where to go back to: the newest checkpoint of this launch, else the one it resumed from.
  loop.checkpoints.finish();
  const std::string committed = parallel::broadcast_string(
      topology_.world(), loop.checkpoints.last_committed().empty() ? resume_from_ : loop.checkpoints.last_committed(), 0);
  incident.action = choose_action(trip, committed, loop.rollbacks, loop.run);
  if (incident.action == GuardAction::kRollBack) {
    ++loop.rollbacks;
    loop.journal.scale_lr(config_.train.guard.lr_factor);
    incident.checkpoint = committed;
    checkpoint::load_parts(loop.parts, checkpoint::Checkpoint(committed));
    incident.rolled_back_to = loop.position.steps_done;
  }
  incident.lr_scale = loop.journal.lr_scale();
  loop.journal.record(incident);
  skip_windows(loop.loader, loop.journal.skipped());
  if (incident.action == GuardAction::kRollBack) {
    log_.start(incident.rolled_back_to);  // cut back to the checkpoint's step, incidents kept
    while (!loop.loss_steps.empty() && loop.loss_steps.back() >= incident.rolled_back_to) {
      loop.loss_steps.pop_back();
      loop.report.local_losses.pop_back();
    }
  }
  log_.record(incident_line(incident));
  say_incident(incident, loop.rollbacks);
  if (incident.action == GuardAction::kStop) loop.report.stopped_by_guard = stop_message(incident, loop.rollbacks, committed);
  return incident;
}

double Trainer::step_flops(const StepResult& result) const {
  const std::vector<models::TowerSize> towers = placement_.recommender().tower_sizes();
  double flops = 0;
  for (size_t t = 0; t < result.work.size() && t < towers.size(); ++t) flops += models::training_flops(towers[t], result.work[t]);
  return flops;
}

void Trainer::count_work(const StepResult& result, RunState& run) const {
  run.log.samples += result.samples;
  run.log.tokens += result.tokens;
  run.totals.add_step(result, placement_.recommender().tower_sizes().size(), topology_.world());
}

void Trainer::count_step(int64_t step, const StepResult& result, RunState& run) const {
  run.nan_in_a_row = 0;
  if (step == 0) log_model_states(step_.memory(), config_.zero_optimization.stage, config_.activation_checkpointing.policy);
  run.log.loss += result.loss;
  run.log.grad_norm += result.grad_norm;
  run.log.health.add(result.health);
  run.log.tower_grad_norms.resize(result.tower_grad_norms.size(), 0.0);
  for (size_t t = 0; t < result.tower_grad_norms.size(); ++t) run.log.tower_grad_norms[t] += result.tower_grad_norms[t];
  ++run.log.steps;
}

GuardAction Trainer::choose_action(const Trip& trip, const std::string& checkpoint, int rollbacks, RunState& run) const {
  const config::GuardConfig& limits = config_.train.guard;
  if (!checkpoint.empty() && limits.max_rollbacks > 0) {
    return rollbacks < limits.max_rollbacks ? GuardAction::kRollBack : GuardAction::kStop;
  }
  // Nothing to go back to: the step is dropped, which heals a bad batch but not a collapsed model.
  if (trip.guard == Guard::kCollapse) return GuardAction::kStop;
  ++run.skipped_steps;
  if (trip.guard == Guard::kNonFinite && ++run.nan_in_a_row >= config_.train.max_nan_steps) return GuardAction::kStop;
  return GuardAction::kSkipStep;
}

void Trainer::skip_windows(data::ShardedLoader& loader, const data::SkippedWindows& more) const {
  data::SkippedWindows skipped = loader.skipped();
  skipped.add(more);
  if (!(skipped == loader.skipped())) loader.skip(skipped);
}

std::string Trainer::incident_line(const Incident& incident) const {
  nlohmann::json line = incident.to_json();
  line["split"] = kIncidentSplit;
  return line.dump();
}

void Trainer::say_incident(const Incident& incident, int rollbacks) const {
  if (topology_.rank() != 0) return;
  std::ostringstream out;
  out << "step " << incident.step << ": guard tripped: " << incident.trip.describe() << "; ";
  switch (incident.action) {
    case GuardAction::kRollBack:
      out << "rolled back to step " << incident.rolled_back_to << " (" << incident.checkpoint << "), rollback "
          << rollbacks << " of " << config_.train.guard.max_rollbacks;
      break;
    case GuardAction::kSkipStep: out << "step skipped (no checkpoint to roll back to)"; break;
    case GuardAction::kStop: out << "stopping"; break;
  }
  out << "; its " << incident.windows.size() << " windows are skipped from now on";
  if (incident.lr_scale != 1.0) out << "; learning rate x" << incident.lr_scale;
  LOG(WARNING) << out.str();
}

std::string Trainer::stop_message(const Incident& incident, int rollbacks, const std::string& checkpoint) const {
  std::ostringstream out;
  out << "step " << incident.step << ": " << incident.trip.describe();
  if (!checkpoint.empty() && config_.train.guard.max_rollbacks > 0) {
    out << ", after " << rollbacks << " rollbacks (train.guard.max_rollbacks)";
  } else if (incident.trip.guard == Guard::kNonFinite) {
    out << ", " << config_.train.max_nan_steps << " steps in a row with no checkpoint to roll back to (train.max_nan_steps)";
  } else {
    out << ", with no checkpoint to roll back to";
  }
  constexpr size_t kShown = 8;
  out << "; the step's " << incident.windows.size() << " windows are skipped on resume (";
  for (size_t i = 0; i < incident.windows.size() && i < kShown; ++i) {
    out << (i ? ", " : "") << data::to_string(incident.windows[i]);
  }
  if (incident.windows.size() > kShown) out << ", ...";
  out << "); incidents in metrics.jsonl and " << checkpoint_root() << "/incidents.json";
  if (!checkpoint.empty()) out << "; the last committed checkpoint is " << checkpoint << ": resume with --resume auto";
  return out.str();
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

void Trainer::describe_evaluation(const CatalogueShard& catalogue, int embeddings, double embedding_seconds,
                                  double ranking_seconds, TrainReport* report) const {
  const int64_t items = catalogue.rows() - 1;
  const int replicas = catalogue.layout().replicas();
  const int64_t held = catalogue.held().size(0);
  const double items_per_second = static_cast<double>(items) * embeddings / std::max(1e-9, embedding_seconds);
  report->evaluation = {{"catalogue_items", items},
                        {"embeddings", embeddings},
                        {"embedding_seconds", embedding_seconds},
                        {"items_per_second", items_per_second},
                        {"replicas", replicas},
                        {"table", config::enum_name(config_.train.eval_catalogue)},
                        {"table_rows_per_rank", held},
                        {"ranking_seconds", ranking_seconds}};
  char line[320];
  std::snprintf(line, sizeof line,
                "evaluation: %lld items embedded %s in %.1f s (%.0f items/s over %d replica%s); item table %s, %lld of "
                "%lld rows on rank 0; valid and test ranked in %.1f s",
                static_cast<long long>(items), embeddings == 1 ? "once" : "twice (the best model's again)",
                embedding_seconds, items_per_second, replicas, replicas == 1 ? "" : "s",
                config::enum_name(config_.train.eval_catalogue), static_cast<long long>(held),
                static_cast<long long>(catalogue.rows()), ranking_seconds);
  report->evaluation_summary = line;
}

TrainReport Trainer::finish(TrainReport report, const RunState& run) {
  // The best model by valid NDCG@200 (the last one unless an earlier validation beat it) is tested and
  // kept. The parameters stay as training holds them (ZeRO-3: sharded; evaluation and saving go block by
  // block).
  report.memory = step_.memory();
  memory_.end_phase(Phase::kTraining, planned_for(Phase::kTraining));
  using Clock = std::chrono::steady_clock;
  auto since = [](Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); };
  Clock::time_point start = Clock::now();
  std::optional<CatalogueShard> catalogue(evaluator_.catalogue());  // embedded once for both splits
  double embedding_seconds = since(start);
  int embeddings = 1;
  start = Clock::now();
  report.valid = evaluator_.evaluate(*catalogue, data::EvalSplit::kValid);
  double ranking_seconds = since(start);
  report.best_step = report.steps;
  log_.metrics("valid", report.steps, report.valid);
  const BestModel& best = run.best;
  if (best.step > 0 && best.valid.at(kSelectionMetric) > report.valid.at(kSelectionMetric)) {
    step_.restore_parameters(best.parameters);
    start = Clock::now();
    catalogue.reset();  // the last model's table goes before the best model's is embedded
    catalogue.emplace(evaluator_.catalogue());
    embedding_seconds += since(start);
    ++embeddings;
    report.valid = best.valid;
    report.best_step = best.step;
  }
  start = Clock::now();
  report.test = evaluator_.evaluate(*catalogue, data::EvalSplit::kTest);
  ranking_seconds += since(start);
  log_.metrics("test", report.best_step, report.test);  // the test record carries the step of the tested model
  describe_evaluation(*catalogue, embeddings, embedding_seconds, ranking_seconds, &report);
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
  options.skipped = data::SkippedWindows::parse(config_.data.skip_windows, "data.skip_windows");
  // Balanced by the towers' training FLOPs (models/training_work.h): the Item LLM's per item token and
  // squared item length, the User LLM's (an ID model's one tower's) per position and squared window.
  options.balance = config_.data.balance == config::BalanceMode::kFlops ? data::Balance::kFlops : data::Balance::kNone;
  options.balance_group = static_cast<int>(batch_.gradient_accumulation_steps);
  const std::vector<models::TowerSize> towers = placement_.recommender().tower_sizes();
  const models::TowerSize& positions = towers.back();
  options.cost.position_linear = 6.0 * static_cast<double>(positions.matmul_parameters);
  options.cost.position_square = 12.0 * static_cast<double>(positions.attention_width);
  if (placement_.recommender().reads_item_tokens()) {
    options.cost.item_linear = 6.0 * static_cast<double>(towers.front().matmul_parameters);
    options.cost.item_square = 12.0 * static_cast<double>(towers.front().attention_width);
  }
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
