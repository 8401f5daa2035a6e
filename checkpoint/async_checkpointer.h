// Asynchronous saving: save() copies this rank's pieces off the training tensors (the only part the
// training loop waits for) and a background thread writes and commits them (save_checkpoint) while
// training goes on. The thread has a communicator of its own over the world (the topology's
// "checkpoint" channel), so its collectives never interleave with training's. The next save() first waits for the previous one; a save that failed
// is reported then (logged with its error; it was never committed) and training continues. wait() blocks
// until the last save is committed (end of training, preemption).
//
// The snapshot is a second copy of the rank's checkpoint pieces (model states but gradients) in host
// memory. With `in_background` false, save() writes the pieces from the training tensors themselves
// instead, in the calling thread, and returns when the checkpoint is committed: no copy, training waits —
// what a CPU run wants, whose model states already live in host memory (config checkpoint.async_save).
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "checkpoint/checkpoint_writer.h"

namespace hllm::checkpoint {

class AsyncCheckpointer {
 public:
  // `own`: a communicator over the world that nothing else uses while this lives (a duplicate).
  explicit AsyncCheckpointer(parallel::Communicator& own, bool in_background = true);
  ~AsyncCheckpointer();  // waits for a save in progress

  // Snapshots `content` (copies of the pieces on the host) and starts writing it; or, not in the
  // background, writes it and returns when it is committed (failures are reported as for a background
  // save). Collective.
  void save(const CheckpointContent& content, const SaveOptions& options);
  // Blocks until the last save finished; returns the directory it committed, once ("" when it failed,
  // none ran, or it was returned before).
  std::string wait();
  // The last failure's message, cleared by reading ("" when none).
  std::string take_error();

 private:
  void run();
  void finish(const std::string& committed, const std::string& error);

  parallel::Communicator& comm_;
  bool in_background_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::optional<std::pair<CheckpointContent, SaveOptions>> job_;
  bool busy_ = false;
  bool stopping_ = false;
  std::string committed_;
  std::string error_;
  std::thread worker_;
};

}  // namespace hllm::checkpoint
