// StepLog: training's progress as a user sees it. Every train.log_interval steps (and at the last) the
// interval's loss (the mean over data-parallel replicas), learning rate, gradient norm, samples/s and item
// tokens/s of all ranks and the ETA are printed by rank 0 and recorded in metrics.jsonl; between them rank
// 0 may redraw a live progress bar (runtime/progress.h), cleared before any other line is printed.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "parallel/topology.h"
#include "runtime/progress.h"
#include "runtime/balance_meter.h"
#include "runtime/run_log.h"
#include "runtime/run_state.h"

namespace hllm::runtime {

class StepLog {
 public:
  // The clock starts now. `bar`: draw a progress bar (rank 0 of a terminal).
  StepLog(const parallel::Topology& topology, const RunLog& log, bool bar, int64_t total_steps);

  // Ends the interval in `interval` after `steps_done` steps, in `epoch`, at learning rate `lr`: prints and
  // records its line, returns its loss and restarts it (the first loss kept). Collective.
  // `balance`: the interval's FLOPs imbalance and waiting share, printed and recorded with it.
  double end_interval(int64_t steps_done, int64_t epoch, double lr, LogInterval* interval,
                      const BalanceMeter::Interval& balance = {});
  // The towers whose gradient norms the intervals carry (LogInterval::tower_grad_norms), in that order.
  void name_towers(std::vector<std::string> towers) { towers_ = std::move(towers); }
  // After each step: the bar redrawn with the last interval's loss and rate.
  void update_bar(int64_t steps_done);
  // Before another line is printed.
  void clear_bar() { bar_.clear(); }
  double seconds() const;  // since the clock started

 private:
  using Clock = std::chrono::steady_clock;
  double eta_seconds(int64_t steps_done) const;

  const parallel::Topology& topology_;
  const RunLog& log_;
  std::vector<std::string> towers_;
  int64_t total_;
  ProgressBar bar_;
  Clock::time_point start_ = Clock::now(), interval_start_ = start_;
  double shown_loss_;
  double shown_rate_ = 0;
};

}  // namespace hllm::runtime
