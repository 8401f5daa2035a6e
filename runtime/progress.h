// ProgressBar: rank 0's live line on a terminal — one line redrawn in place (at most 5 times a second)
// with the step, a bar, the latest logged loss, samples/s and ETA. The launcher decides whether to draw it
// (--progress; not into a log file or a Slurm job), and the trainer's plain progress lines are printed
// either way, the bar cleared first so that they never mix.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace hllm::runtime {

class ProgressBar {
 public:
  // `enabled`: draw at all (rank 0, when the launcher wants a bar).
  ProgressBar(bool enabled, int64_t total_steps);
  ~ProgressBar();

  // After each step: `step` done of total; the latest logged interval's loss (NaN before the first) and
  // samples/s (0 before the first).
  void update(int64_t step, double loss, double samples_per_second, double eta_seconds);
  // Erases the bar so that a full line can be printed; the next update() draws it again.
  void clear();

  static bool stdout_is_terminal();

 private:
  bool enabled_;
  int64_t total_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_draw_{};
};

// "H:MM:SS".
std::string format_duration(double seconds);

}  // namespace hllm::runtime
