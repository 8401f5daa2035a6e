// Saving a checkpoint (format and commit protocol: checkpoint_format.h). Collective over the world.
#pragma once

#include <string>

#include "checkpoint/state.h"
#include "parallel/comm/communicator.h"

namespace hllm::checkpoint {

struct SaveOptions {
  std::string root;   // checkpoint.dir
  int64_t step = 0;
  int keep_last = 2;  // committed checkpoints kept (older ones deleted after the commit); 0 = all
  nlohmann::json info;  // stored as manifest["info"] (config, world size)
};

// Writes this rank's pieces and, on rank 0, the manifest; commits; applies retention. Returns the
// committed directory on every rank. A failure on any rank (disk full, permissions) throws on every rank
// and leaves no committed checkpoint for this step.
std::string save_checkpoint(const CheckpointContent& content, const SaveOptions& options,
                            parallel::Communicator& world);

}  // namespace hllm::checkpoint
