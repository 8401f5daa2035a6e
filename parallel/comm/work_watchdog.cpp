#include "parallel/comm/work_watchdog.h"

#include <glog/logging.h>

#include <cstdlib>
#include <exception>
#include <vector>

#include "common/error.h"
#include "parallel/comm/stall_report.h"

namespace hllm::parallel {

void WorkWatchdog::abort_job(const std::string& context, double seconds) {
  FlightRecorder* recorder = installed_flight_recorder();
  LOG(ERROR) << context << ": no progress for " << seconds
             << " s (comm.timeout_s); a rank of the group is stuck, slow or gone; aborting the job"
             << (recorder ? report_stall_now(*recorder) : "");
  google::FlushLogFiles(google::GLOG_INFO);
  std::abort();
}

WorkWatchdog::WorkWatchdog(double timeout_seconds, Handler on_timeout, double poll_seconds)
    : timeout_seconds_(timeout_seconds), on_timeout_(std::move(on_timeout)), poll_(poll_seconds) {
  HLLM_CHECK(timeout_seconds > 0 && poll_seconds > 0, "a watchdog needs a positive timeout and poll interval");
  thread_ = std::thread([this] { run(); });
}

WorkWatchdog::~WorkWatchdog() {
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void WorkWatchdog::watch(std::string context, WorkHandle work) {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                            std::chrono::duration<double>(timeout_seconds_));
  const std::lock_guard<std::mutex> lock(mutex_);
  watched_.push_back({std::move(context), std::move(work), deadline});
}

size_t WorkWatchdog::pending() const {
  const std::lock_guard<std::mutex> lock(mutex_);
  return watched_.size();
}

void WorkWatchdog::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, poll_, [this] { return stopping_; });
    if (stopping_) break;
    // Polled outside the lock, so watch() never waits for a slow is_completed().
    std::deque<Watched> batch;
    batch.swap(watched_);
    lock.unlock();
    std::vector<Watched> still;
    std::vector<Watched> late;
    const auto now = std::chrono::steady_clock::now();
    for (auto& w : batch) {
      bool done = false;
      try {
        done = w.work->is_completed();
      } catch (const std::exception&) {
        done = true;  // a failed operation reports itself to its waiter; it is not hung
      }
      if (done) continue;
      (now > w.deadline ? late : still).push_back(std::move(w));
    }
    for (const auto& w : late) on_timeout_(w.context, timeout_seconds_);
    lock.lock();
    // Newer operations were appended meanwhile; the older ones go back in front.
    for (auto it = still.rbegin(); it != still.rend(); ++it) watched_.push_front(std::move(*it));
  }
}

}  // namespace hllm::parallel
