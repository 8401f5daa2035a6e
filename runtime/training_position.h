// TrainingPosition: where a training run is — the optimizer steps done and the loader's position (epoch
// and batch), with the windows it skips — as a checkpoint holds it (Stateful), so a resumed run reads the
// batches it would have read. Loading adds the checkpoint's skipped windows to the loader's own.
#pragma once

#include <cstdint>

#include "checkpoint/stateful.h"
#include "data/sharded_loader.h"

namespace hllm::runtime {

class TrainingPosition : public checkpoint::Stateful {
 public:
  explicit TrainingPosition(data::ShardedLoader& loader) : loader_(loader) {}

  int64_t steps_done = 0;

  const char* state_name() const override { return "position"; }
  void save_state(std::vector<checkpoint::StatePiece>* pieces, nlohmann::json* scalars) override;
  void load_state(const checkpoint::Checkpoint& checkpoint, const nlohmann::json& scalars) override;

 private:
  data::ShardedLoader& loader_;
};

}  // namespace hllm::runtime
