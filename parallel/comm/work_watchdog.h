// WorkWatchdog: a deadline for operations no caller blocks on. NCCL only enqueues kernels: Work::wait()
// orders the caller's stream and returns, and a collective that never completes (a rank hung or gone)
// shows up as a host blocked forever deep inside LibTorch's next synchronisation. The watchdog's thread
// polls every watched Work (is_completed(), which must be safe to call from another thread); one still
// incomplete after the timeout is reported to the handler with its context (operation, rank, group) — by
// default logged, and the process aborted, so mpirun ends the whole job (as comm.timeout_s does for MPI
// collectives, whose wait() itself watches the deadline).
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "parallel/comm/communicator.h"

namespace hllm::parallel {

class WorkWatchdog {
 public:
  using Handler = std::function<void(const std::string& context, double seconds)>;
  // Logs "<context>: no progress for <seconds> s (comm.timeout_s) ..." and aborts the process.
  static void abort_job(const std::string& context, double seconds);

  explicit WorkWatchdog(double timeout_seconds, Handler on_timeout = abort_job, double poll_seconds = 0.05);
  ~WorkWatchdog();
  WorkWatchdog(const WorkWatchdog&) = delete;
  WorkWatchdog& operator=(const WorkWatchdog&) = delete;

  // From now on `work` must complete within the timeout. Keeps it alive until it completes.
  void watch(std::string context, WorkHandle work);
  // Operations watched and not yet seen complete.
  size_t pending() const;

 private:
  struct Watched {
    std::string context;
    WorkHandle work;
    std::chrono::steady_clock::time_point deadline;
  };
  void run();

  double timeout_seconds_;
  Handler on_timeout_;
  std::chrono::duration<double> poll_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Watched> watched_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace hllm::parallel
