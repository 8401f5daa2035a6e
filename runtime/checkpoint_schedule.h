// CheckpointSchedule: when a training run saves and how. At each step boundary every rank agrees on
// whether to save — every checkpoint.interval_steps, every checkpoint.interval_minutes (rank 0's clock),
// or because a stop was asked on any rank (the launcher's SIGTERM / SIGUSR1 flag), after which the run
// stops — and saves through checkpoint/AsyncCheckpointer: in the background on GPUs, blocking on the CPU
// (checkpoint.async_save). A save that fails is logged, never committed, and training goes on.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "checkpoint/async_checkpointer.h"
#include "checkpoint/state.h"
#include "common/config/config.h"
#include "parallel/topology.h"

namespace hllm::runtime {

class CheckpointSchedule {
 public:
  // `root`: where checkpoints go. `stop_flag`: may be null. Collective (the first time: the topology's
  // "checkpoint" channel is made).
  CheckpointSchedule(const config::Config& config, const parallel::Topology& topology, std::string root,
                     bool in_background, const std::atomic<int>* stop_flag);

  struct Decision {
    bool save = false;
    bool stop = false;  // a stop was asked: save, then end the run
  };
  // At the boundary after `steps_done` steps: the same decision on every rank. Collective when the stop
  // flag or a time interval is watched.
  Decision at_boundary(int64_t steps_done);
  // Saves `content` as step `steps_done`'s checkpoint, after the previous save has finished. Collective.
  void save(checkpoint::CheckpointContent content, int64_t steps_done);
  // Waits for the last save; its directory becomes last_committed() (a failure is logged).
  void finish();
  // The newest checkpoint this run committed ("" if none).
  const std::string& last_committed() const { return last_committed_; }

 private:
  using Clock = std::chrono::steady_clock;

  const config::Config& config_;
  const parallel::Topology& topology_;
  std::string root_;
  bool in_background_;
  const std::atomic<int>* stop_flag_;
  checkpoint::AsyncCheckpointer saver_;
  Clock::time_point last_save_ = Clock::now();
  std::string last_committed_;
};

}  // namespace hllm::runtime
