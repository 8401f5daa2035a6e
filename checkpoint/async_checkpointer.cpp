#include "checkpoint/async_checkpointer.h"

#include <ATen/ATen.h>

namespace hllm::checkpoint {

namespace {

// Writes and commits `content`; returns the committed directory and the failure's message ("" when none).
std::pair<std::string, std::string> write(const CheckpointContent& content, const SaveOptions& options,
                                          parallel::Communicator& comm) {
  try {
    return {save_checkpoint(content, options, comm), ""};
  } catch (const std::exception& e) {
    return {"", e.what()};
  }
}

}  // namespace

AsyncCheckpointer::AsyncCheckpointer(parallel::Communicator& own, bool in_background)
    : comm_(own), in_background_(in_background), worker_([this] { run(); }) {}

AsyncCheckpointer::~AsyncCheckpointer() {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return !busy_; });
    stopping_ = true;
  }
  changed_.notify_all();
  worker_.join();
}

void AsyncCheckpointer::save(const CheckpointContent& content, const SaveOptions& options) {
  wait();
  if (!in_background_) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      busy_ = true;
    }
    const auto [committed, error] = write(content, options, comm_);
    finish(committed, error);
    return;
  }
  CheckpointContent snapshot;
  snapshot.scalars = content.scalars;
  for (const auto& piece : content.pieces) {
    snapshot.pieces.push_back(
        {piece.name, piece.shape, piece.offset, piece.values.detach().to(at::kCPU, /*non_blocking=*/false, /*copy=*/true)});
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_.emplace(std::move(snapshot), options);
    busy_ = true;
  }
  changed_.notify_all();
}

std::string AsyncCheckpointer::wait() {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return !busy_; });
  std::string done;
  done.swap(committed_);
  return done;
}

std::string AsyncCheckpointer::take_error() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string e;
  e.swap(error_);
  return e;
}

void AsyncCheckpointer::run() {
  for (;;) {
    std::pair<CheckpointContent, SaveOptions> job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [&] { return stopping_ || job_.has_value(); });
      if (!job_) return;
      job = std::move(*job_);
      job_.reset();
    }
    const auto [committed, error] = write(job.first, job.second, comm_);
    finish(committed, error);
  }
}

void AsyncCheckpointer::finish(const std::string& committed, const std::string& error) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    committed_ = committed;
    if (!error.empty()) error_ = error;
    busy_ = false;
  }
  changed_.notify_all();
}

}  // namespace hllm::checkpoint
