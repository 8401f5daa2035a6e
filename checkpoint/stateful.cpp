#include "checkpoint/stateful.h"

namespace hllm::checkpoint {

CheckpointContent save_parts(const std::vector<Stateful*>& parts) {
  CheckpointContent content;
  content.scalars = nlohmann::json::object();
  for (Stateful* part : parts) {
    nlohmann::json scalars = nlohmann::json::object();
    part->save_state(&content.pieces, &scalars);
    content.scalars[part->state_name()] = std::move(scalars);
  }
  return content;
}

void load_parts(const std::vector<Stateful*>& parts, const Checkpoint& checkpoint) {
  for (Stateful* part : parts) part->load_state(checkpoint, checkpoint.scalars_of(part->state_name()));
}

}  // namespace hllm::checkpoint
