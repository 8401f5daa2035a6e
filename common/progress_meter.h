// ProgressMeter: what a tool's long phases show while they run, so that a user can tell work from a hang —
// the phase, the count done (of the total when known), the rate and the ETA; for a phase that cannot count
// (a library call), the seconds it has run.
//   - On a terminal: one line redrawn in place, 5 times a second.
//   - Otherwise (a CI log, a Slurm output file): a line every `interval_seconds`.
// Every phase's end is printed either way, with its count, seconds and rate; summary() gives every phase's
// time and the process's peak resident memory as each ended. A thread of the meter's own draws the lines,
// so a phase shows progress however it is computed; advance() only counts and may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace hllm {

class ProgressMeter {
 public:
  // Lines go to `out` (a tool's stderr). `terminal`: redraw one line in place (isatty of `out`).
  ProgressMeter(std::FILE* out, bool terminal, double interval_seconds = 10);
  ~ProgressMeter();
  ProgressMeter(const ProgressMeter&) = delete;
  ProgressMeter& operator=(const ProgressMeter&) = delete;

  // Starts `phase` ("reading", "tokenizing", ...) of `total` `unit`s (total 0: unknown, no ETA; unit "": a
  // phase that does not count). Ends the phase before, if any.
  void begin(const std::string& phase, int64_t total, const std::string& unit);
  // The same for a phase that counts bytes (shown in MB).
  void begin_bytes(const std::string& phase, int64_t total_bytes);
  // `n` more units done. Thread-safe.
  void advance(int64_t n = 1) { done_.fetch_add(n, std::memory_order_relaxed); }
  // Ends the phase: its final line, and its time kept for summary(). A phase the meter is destroyed in is
  // not ended (an error left it): it gets no final line.
  void end();

  struct Phase {
    std::string name;
    double seconds = 0;
    int64_t peak_resident_bytes = 0;  // the process's high-water mark when the phase ended
  };
  const std::vector<Phase>& phases() const { return phases_; }
  // "reading 3.1 s, filtering 0.4 s, ...; peak memory 1.23 GB (reached by reading)"
  std::string summary() const;

 private:
  using Clock = std::chrono::steady_clock;
  void draw(bool final_line);
  void tick();
  bool stop_ticker();  // false when no phase was running
  double seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

  std::FILE* out_;
  bool terminal_;
  double interval_;
  std::string phase_;
  std::string unit_;
  bool bytes_ = false;
  int64_t total_ = 0;
  std::atomic<int64_t> done_{0};
  Clock::time_point start_;
  std::vector<Phase> phases_;
  // The drawing thread of the phase running, and how it is told to stop.
  std::thread ticker_;
  std::mutex mutex_;
  std::condition_variable stop_;
  bool stopping_ = false;
};

// True when `out` is a terminal.
bool is_terminal(std::FILE* out);

// The process's resident-set high-water mark in bytes (getrusage), -1 where unknown.
int64_t process_peak_resident_bytes();

}  // namespace hllm
