// Stateful: a part of a training run that a checkpoint holds — the model with its optimizer, the loader's
// position, the run's own state — written into a checkpoint's content and read back from one. The
// trainer saves and resumes every part alike; a part added to a run is one more Stateful, and checkpoint/
// needs no change (checkpoint/state.h: everything is pieces of global tensors and JSON scalars).
#pragma once

#include "checkpoint/checkpoint_reader.h"
#include "checkpoint/state.h"

namespace hllm::checkpoint {

class Stateful {
 public:
  virtual ~Stateful() = default;
  // Adds this part's pieces (this rank's) and scalars (the same on every rank) to `content`.
  virtual void save_state(CheckpointContent* content) = 0;
  // Reads them back from a checkpoint written by a run of any layout (dp, pp, ZeRO stage).
  virtual void load_state(const Checkpoint& checkpoint) = 0;
};

}  // namespace hllm::checkpoint
