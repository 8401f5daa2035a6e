// BalanceMeter: how evenly a run's work falls on its ranks, from every step's census
// (runtime/step_census.h; issue "equal work on every rank"). Per step, the estimated training FLOPs of the
// busiest rank against the mean over the ranks that read samples (the data-parallel ranks; under pp their
// first stages), and each rank's time blocked in communication against its step's compute time. Over the
// run: every rank's FLOPs and waiting summed, and the per-step ratio's mean, 90th percentile (a histogram
// of 0.005-wide bins) and maximum; over each log interval the same ratio's mean and the job's waiting share.
// The same on every rank (the census is); checkpointed with the run (RunState), so a resumed run's figures
// cover every segment (per-rank sums only when the world size is unchanged).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/step_census.h"

namespace hllm::runtime {

class BalanceMeter {
 public:
  void add(const std::vector<RankStep>& ranks);

  // {"steps", "flops_per_rank", "flops_max_over_mean" (of the run's sums), "step_flops_max_over_mean":
  //  {"mean", "p90", "max"}, "wait_share_per_rank", "wait_share_mean", "wait_share_max"}
  nlohmann::json report() const;
  // "balance: busiest rank 1.08x the mean FLOPs per step (p90 1.21x), waiting 12% of step time (most 15%, rank 1)"
  std::string summary() const;

  // The open log interval: mean per-step ratio and waiting share (the whole job's), then cleared.
  struct Interval {
    double flops_max_over_mean = 0;
    double wait_share = 0;
    bool measured = false;  // some step with samples
  };
  Interval end_interval();

  nlohmann::json to_json() const;
  // Back from a checkpoint's (null: nothing measured yet); per-rank sums only when they have `world_size` entries.
  void from_json(const nlohmann::json& saved, int world_size);

 private:
  static constexpr double kBinWidth = 0.005;
  static constexpr int kBins = 800;  // ratios 1 .. 5; larger ones count in the last bin
  double percentile(double q) const;

  int64_t steps_ = 0;
  std::vector<double> flops_, seconds_, waited_;  // per world rank
  std::vector<int64_t> ratio_bins_ = std::vector<int64_t>(kBins, 0);
  double ratio_sum_ = 0, ratio_max_ = 0;
  double interval_ratio_sum_ = 0, interval_waited_ = 0, interval_seconds_ = 0;
  int64_t interval_steps_ = 0;
};

}  // namespace hllm::runtime
