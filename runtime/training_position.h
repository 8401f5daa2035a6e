// TrainingPosition: where a training run is — the optimizer steps done and the loader's position (epoch
// and batch) — as a checkpoint holds it (Stateful), so a resumed run reads the batches it would have read.
#pragma once

#include <cstdint>

#include "checkpoint/stateful.h"
#include "data/sharded_loader.h"

namespace hllm::runtime {

class TrainingPosition : public checkpoint::Stateful {
 public:
  explicit TrainingPosition(data::ShardedLoader& loader) : loader_(loader) {}

  int64_t steps_done = 0;

  void save_state(checkpoint::CheckpointContent* content) override;
  void load_state(const checkpoint::Checkpoint& checkpoint) override;

 private:
  data::ShardedLoader& loader_;
};

}  // namespace hllm::runtime
