#include "common/progress_meter.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cmath>

namespace hllm {
namespace {

// "1.23M", "45.6k", "789": counts and rates short enough for one line.
std::string human(double value) {
  char text[32];
  if (value >= 1e9) {
    std::snprintf(text, sizeof(text), "%.2fG", value / 1e9);
  } else if (value >= 1e6) {
    std::snprintf(text, sizeof(text), "%.2fM", value / 1e6);
  } else if (value >= 1e4) {
    std::snprintf(text, sizeof(text), "%.1fk", value / 1e3);
  } else {
    std::snprintf(text, sizeof(text), "%.0f", value);
  }
  return text;
}

std::string megabytes(double bytes) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f", bytes / 1e6);
  return text;
}

std::string clock_text(double seconds) {
  const auto s = static_cast<int64_t>(std::llround(seconds));
  char text[48];
  std::snprintf(text, sizeof(text), "%" PRId64 ":%02" PRId64 ":%02" PRId64, s / 3600, (s / 60) % 60, s % 60);
  return text;
}

std::string fixed(double value, const char* format) {
  char text[48];
  std::snprintf(text, sizeof(text), format, value);
  return text;
}

}  // namespace

bool is_terminal(std::FILE* out) { return isatty(fileno(out)) == 1; }

int64_t process_peak_resident_bytes() {
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return -1;
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;  // Linux reports kilobytes
}

ProgressMeter::ProgressMeter(std::FILE* out, bool terminal, double interval_seconds)
    : out_(out), terminal_(terminal), interval_(interval_seconds) {}

ProgressMeter::~ProgressMeter() {
  // A phase still running was abandoned (an error is on its way): no final line claims it finished.
  if (!stop_ticker()) return;
  if (terminal_) std::fputs("\n", out_);
  std::fflush(out_);
}

bool ProgressMeter::stop_ticker() {
  if (!ticker_.joinable()) return false;
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  stop_.notify_all();
  ticker_.join();
  return true;
}

void ProgressMeter::begin(const std::string& phase, int64_t total, const std::string& unit) {
  end();
  phase_ = phase;
  unit_ = unit;
  bytes_ = false;
  total_ = total;
  done_ = 0;
  start_ = Clock::now();
  stopping_ = false;
  ticker_ = std::thread([this] { tick(); });
}

void ProgressMeter::begin_bytes(const std::string& phase, int64_t total_bytes) {
  begin(phase, total_bytes, "MB");
  bytes_ = true;
}

void ProgressMeter::tick() {
  const auto period = std::chrono::duration<double>(terminal_ ? 0.2 : interval_);
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_.wait_for(lock, period, [this] { return stopping_; })) draw(false);
}

void ProgressMeter::end() {
  if (!stop_ticker()) return;
  draw(true);
  phases_.push_back({phase_, seconds(), process_peak_resident_bytes()});
}

void ProgressMeter::draw(bool final_line) {
  const double elapsed = seconds();
  const auto done = static_cast<double>(done_.load(std::memory_order_relaxed));
  const auto total = static_cast<double>(total_);
  const double rate = elapsed > 0 ? done / elapsed : 0;
  const auto amount = [&](double value) { return bytes_ ? megabytes(value) : human(value); };
  std::string line = phase_ + ": ";
  if (unit_.empty()) {  // a phase that does not count: how long it has run
    line += final_line ? "done in " + fixed(elapsed, "%.1f s") : fixed(elapsed, "%.0f s");
  } else {
    line += amount(done);
    if (total_ > 0 && !final_line) line += " / " + amount(total);
    line += " " + unit_;
    if (total_ > 0 && !final_line) line += fixed(100 * done / total, " (%.0f%%)");
    if (final_line) line += " in " + fixed(elapsed, "%.1f s");
    if (rate > 0) line += ", " + amount(rate) + " " + unit_ + "/s";
    if (!final_line && total_ > 0 && rate > 0) line += ", ETA " + clock_text(std::max(0.0, total - done) / rate);
  }
  if (terminal_) {
    std::fprintf(out_, "\r\033[K%s%s", line.c_str(), final_line ? "\n" : "");
  } else {
    std::fprintf(out_, "%s\n", line.c_str());
  }
  std::fflush(out_);
}

std::string ProgressMeter::summary() const {
  std::string text;
  const Phase* peak = nullptr;
  for (const Phase& phase : phases_) {
    text += (text.empty() ? "" : ", ") + phase.name + fixed(phase.seconds, " %.1f s");
    if (peak == nullptr || phase.peak_resident_bytes > peak->peak_resident_bytes) peak = &phase;
  }
  if (peak != nullptr && peak->peak_resident_bytes > 0) {
    text += "; peak memory " + fixed(static_cast<double>(peak->peak_resident_bytes) / 1e9, "%.2f GB") +
            " (reached in " + peak->name + ")";
  }
  return text;
}

}  // namespace hllm
