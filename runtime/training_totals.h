// TrainingTotals: the whole run's count of what training computed — samples, each tower's tokens and
// squared sequence lengths (models/training_work.h), training time and rank-seconds — summed over every
// rank and every segment of a resumed run. The same on every rank (each step's counts are summed over the
// world); RunState puts them into checkpoints, so a resumed run's totals continue where its checkpoint
// left them. (Time spent after the last checkpoint of a crashed segment is not counted: its steps are
// done again and counted then.)
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <vector>

#include "models/training_work.h"
#include "parallel/comm/communicator.h"
#include "runtime/step_result.h"

namespace hllm::runtime {

class TrainingTotals {
 public:
  // Adds one step: this rank's result summed over `world` (under pp only first stages count; the others'
  // results have no work). `towers`: the model's tower_sizes().size(). Collective.
  void add_step(const StepResult& result, size_t towers, parallel::Communicator& world);
  // This segment's training time so far, on `world_size` ranks.
  void set_segment(double seconds, int world_size) {
    segment_seconds_ = seconds;
    segment_ranks_ = world_size;
  }

  int64_t samples() const { return samples_; }
  const std::vector<models::TowerWork>& towers() const { return towers_; }
  double seconds() const { return earlier_seconds_ + segment_seconds_; }
  double rank_seconds() const { return earlier_rank_seconds_ + segment_seconds_ * segment_ranks_; }

  // Into and out of a checkpoint's scalars (a checkpoint written before totals existed: they start at 0).
  nlohmann::json to_json() const;
  void from_json(const nlohmann::json& saved);

 private:
  int64_t samples_ = 0;
  std::vector<models::TowerWork> towers_;
  double earlier_seconds_ = 0, earlier_rank_seconds_ = 0;  // of the segments before this one
  double segment_seconds_ = 0;
  int segment_ranks_ = 0;
};

}  // namespace hllm::runtime
