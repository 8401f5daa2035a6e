#include "runtime/progress.h"

#include <unistd.h>

#include <cmath>

namespace hllm::runtime {

std::string format_duration(double seconds) {
  const auto s = static_cast<int64_t>(std::max(0.0, seconds));
  char text[32];
  std::snprintf(text, sizeof(text), "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  return text;
}

bool ProgressBar::stdout_is_terminal() { return isatty(fileno(stdout)) == 1; }

ProgressBar::ProgressBar(bool enabled, int64_t total_steps) : enabled_(enabled), total_(std::max<int64_t>(1, total_steps)) {}

ProgressBar::~ProgressBar() { clear(); }

void ProgressBar::update(int64_t step, double loss, double samples_per_second, double eta_seconds) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (step < total_ && drawn_ && now - last_draw_ < std::chrono::milliseconds(200)) return;
  last_draw_ = now;
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(kWidth * step / total_);
  std::string bar(filled, '#');
  bar.append(kWidth - filled, '.');
  std::printf("\r[%s] %lld/%lld", bar.c_str(), static_cast<long long>(step), static_cast<long long>(total_));
  if (!std::isnan(loss)) std::printf("  loss %.4f", loss);
  if (samples_per_second > 0) std::printf("  %.1f samples/s", samples_per_second);  // known from the first log line
  std::printf("  ETA %s\033[K", format_duration(eta_seconds).c_str());
  std::fflush(stdout);
  drawn_ = true;
}

void ProgressBar::clear() {
  if (!enabled_ || !drawn_) return;
  std::printf("\r\033[K");
  std::fflush(stdout);
  drawn_ = false;
}

}  // namespace hllm::runtime
