// TrainingGuard: judges every optimizer step before it is applied (README "Training health"). A step
// trips a guard when
//   non-finite  its loss or gradients are NaN or Inf;
//   spike       its loss exceeds train.guard.spike_factor x the median loss of the last spike_window
//               steps that passed (watched once that many have);
//   collapse    for collapse_steps steps in a row the negatives kept after the same-item filter were below
//               collapse_min_kept_share of the pool, or the items' mean pairwise cosine above
//               collapse_max_item_cosine (models/info_nce.h's health).
// Every rank's step is read from the step's census (one all-gather, runtime/step_census.h) and summed in rank
// order, so every rank judges the same numbers and reaches the same verdict at the same step. What the Trainer does on
// a trip (roll back, skip, stop) is its own (runtime/trainer.h). The history the guards judge against is
// part of the run's checkpointed state (GuardHistory), so a resumed or rolled-back run judges alike.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <deque>
#include <string>

#include "common/config/config.h"
#include <vector>

#include "runtime/step_census.h"

namespace hllm::runtime {

enum class Guard { kNone, kNonFinite, kSpike, kCollapse };
const char* guard_name(Guard guard);  // "non_finite", "spike", "collapse"

// One step as the whole job saw it: the same on every rank.
struct GuardReading {
  double loss = 0;           // mean over the ranks that read samples (each rank's loss is its micro-batches' mean)
  int64_t samples = 0;       // real samples of the whole step
  int64_t health_batches = 0;
  double kept_share = 1;     // mean over micro-batches of 1 - the share of pairs the same-item filter removed
  double item_cosine = 0;    // mean over micro-batches of the items' mean pairwise cosine
  bool non_finite = false;   // gradients (on any rank) or the loss
  // From every rank's account of the step (runtime/step_census.h), summed in rank order: the same bits on
  // every rank.
  static GuardReading of(const std::vector<RankStep>& ranks);
};

// What the guards remember between steps; checkpointed with the run (RunState).
struct GuardHistory {
  std::deque<double> losses;  // the last spike_window steps that passed
  int64_t collapsed_steps = 0;  // in a row, up to the last step that passed
  nlohmann::json to_json() const;
  static GuardHistory from_json(const nlohmann::json& json);  // null: empty (checkpoints from before guards)
};

struct Trip {
  Guard guard = Guard::kNone;
  std::string metric;  // "loss", "kept_share", "item_cosine"
  double value = 0;
  double threshold = 0;
  explicit operator bool() const { return guard != Guard::kNone; }
  // "spike: loss 41.3 > 5 x median 8.26 (20.7)"
  std::string describe() const;
};

class TrainingGuard {
 public:
  explicit TrainingGuard(const config::GuardConfig& config) : config_(config) {}

  // The verdict on a step; a step that passed (and read samples) enters `history`. A step with no samples
  // anywhere (every window skipped) neither trips nor enters.
  Trip judge(const GuardReading& reading, GuardHistory& history);

  // The extremes the guards saw over the steps judged (this launch): how far a healthy run stays from
  // the thresholds. {"steps", "max_spike_ratio", "min_kept_share", "max_item_cosine", "non_finite_steps",
  // "longest_collapsed_streak" (steps in a row that looked collapsed; the guard trips at collapse_steps)}.
  nlohmann::json observed() const;

 private:
  const config::GuardConfig& config_;
  int64_t judged_ = 0, non_finite_ = 0, longest_streak_ = 0;
  bool saw_health_ = false;
  double max_spike_ratio_ = 0, min_kept_share_ = 1, max_item_cosine_ = -1;
};

}  // namespace hllm::runtime
