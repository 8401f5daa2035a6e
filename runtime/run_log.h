// RunLog: what a training run leaves in its directory, written by rank 0 — config.json (the run's
// resolved config), metrics.jsonl (a line per logged interval and per evaluation; a resumed run keeps
// the lines up to its checkpoint's step) and report.json (the TrainReport: metrics of the tested model,
// throughput, memory per rank beside the plan, the config). With no directory, or on other ranks, it
// writes nothing.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/config/config.h"
#include "parallel/topology.h"
#include "runtime/run_memory.h"
#include "runtime/training_totals.h"
#include "runtime/step_result.h"

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
  int64_t cold_items = 0;        // the dataset's items held out of training (its metrics count them apart)
  std::string cold_items_note;   // what the model knows of them, said in the report and the final table
  std::vector<double> local_losses;  // every step's loss on this rank's own micro-batches (since the resume)
  int64_t resumed_from = 0;          // the checkpoint's step, 0 when the run started fresh
  bool preempted = false;            // stopped on request after committing a checkpoint; no evaluation ran
  std::string last_checkpoint;       // the newest checkpoint this run committed ("" if none)
  MemoryReport memory;               // the model states measured in the first step
  // Measured over the whole run (runtime/run_memory.h): start-up is building the model; training the
  // steps with their validations and checkpoints; evaluation the final valid and test; saving the final
  // model.
  PeakMemory peak;
  // What training computed (summed over every rank and every segment of a resumed run), with the
  // towers' sizes to turn it into FLOPs; the training windows of an epoch.
  TrainingTotals totals;
  std::vector<models::TowerSize> towers;
  int64_t training_windows = 0;
  int64_t dataset_users = 0, dataset_items = 0, dataset_interactions = 0;
  // The training guards: {"incidents", "skip_windows", "lr_scale", "rollbacks" (this launch), "observed"
  // (TrainingGuard::observed)}; and, when a guard stopped the run, why (then, as after a preemption, nothing
  // was evaluated and no report.json is written: the incidents are in metrics.jsonl and incidents.json).
  nlohmann::json guard;
  std::string stopped_by_guard;
  // How evenly the work fell on the ranks (runtime/balance_meter.h): report.json's "balance", and its line.
  nlohmann::json balance;
  std::string balance_summary;
  // The final evaluation's time: report.json's "evaluation" (the catalogue embedded, how its table was held,
  // the users ranked), and its line.
  nlohmann::json evaluation;
  std::string evaluation_summary;
};

// metrics.jsonl's "split" of an incident line (runtime/incident_journal.h).
inline constexpr const char* kIncidentSplit = "incident";

// report.json's "accounting": per tower and in total the parameters, the matmul parameters (those that
// multiply every token: the N of scaling laws), tokens and training FLOPs (models/training_work.h); samples,
// training time and rank-hours of every segment; the dataset's size.
nlohmann::ordered_json accounting_json(const TrainReport& report);
// The same as one line for the end of a run: "training work: 3.1e+12 FLOPs (item 2.9e+12 over 1.2e+06
// tokens, user ...); parameters 5.4e+06 (matmul 1.6e+06); 12.3 s, 0.0068 rank-hours".
std::string accounting_line(const nlohmann::ordered_json& accounting);

class RunLog {
 public:
  // `run_dir` empty: nothing is written. `writer`: this rank writes (rank 0).
  RunLog(std::string run_dir, bool writer);

  void write_config(const config::Config& config) const;
  // Starts metrics.jsonl: fresh at step 0; after a resume or a rollback, cut back to the lines up to
  // `first_step` (an interrupted run may have logged beyond its checkpoint), incidents kept.
  void start(int64_t first_step) const;
  void record(const std::string& json_line) const;
  void metrics(const char* split, int64_t step, const std::map<std::string, double>& values) const;
  void write_report(const TrainReport& report, const config::Config& config, const parallel::Topology& topology) const;

  const std::string& dir() const { return run_dir_; }
  bool writes() const { return writes_; }

 private:
  std::string run_dir_;
  bool writes_;
};

}  // namespace hllm::runtime
