// Stateful: a part of a training run that a checkpoint holds — the model with its optimizer, the loader's
// position, the run's own state — written into a checkpoint's content and read back from one. Each part has
// a name, and its scalars are its own JSON object, stored under that name (format version 2), so parts
// cannot collide. The trainer saves and resumes every part alike (save_parts / load_parts); a part added to
// a run is one more Stateful, and checkpoint/ needs no change (checkpoint/state.h: everything is pieces of
// global tensors and JSON scalars).
#pragma once

#include <nlohmann/json.hpp>

#include <vector>

#include "checkpoint/checkpoint_reader.h"
#include "checkpoint/state.h"

namespace hllm::checkpoint {

class Stateful {
 public:
  virtual ~Stateful() = default;
  // The part's name in a checkpoint ("model", "position", "run").
  virtual const char* state_name() const = 0;
  // Adds this part's pieces (this rank's) to `pieces` and its scalars (the same on every rank) to `scalars`,
  // an object of its own.
  virtual void save_state(std::vector<StatePiece>* pieces, nlohmann::json* scalars) = 0;
  // Reads them back from a checkpoint written by a run of any layout (dp, pp, ZeRO stage); `scalars` are
  // the part's own.
  virtual void load_state(const Checkpoint& checkpoint, const nlohmann::json& scalars) = 0;
};

// Every part's state in one content, each part's scalars under its name.
CheckpointContent save_parts(const std::vector<Stateful*>& parts);
// Every part read back from `checkpoint` (Checkpoint::scalars_of gives each its scalars).
void load_parts(const std::vector<Stateful*>& parts, const Checkpoint& checkpoint);

}  // namespace hllm::checkpoint
