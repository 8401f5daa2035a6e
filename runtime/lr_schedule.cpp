#include "runtime/lr_schedule.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace hllm::runtime {

int64_t warmup_steps(const config::SchedulerParams& params, int64_t total_steps) {
  if (params.warmup_num_steps > 0) return params.warmup_num_steps;
  return std::llround(params.warmup_ratio * static_cast<double>(total_steps));
}

double learning_rate(const config::SchedulerConfig& schedule, double peak_lr, int64_t step, int64_t run_steps) {
  const auto& p = schedule.params;
  const int64_t total = p.total_num_steps > 0 ? p.total_num_steps : run_steps;
  const int64_t warmup = warmup_steps(p, total);
  if (step < warmup) {
    const double progress = static_cast<double>(step) / static_cast<double>(warmup);
    return peak_lr * (p.warmup_min_ratio + (1.0 - p.warmup_min_ratio) * progress);
  }
  if (schedule.type == config::LrScheduleType::kWarmupLR) return peak_lr;
  HLLM_CHECK(total > warmup, "scheduler: total_num_steps (", total, ") must exceed warmup_num_steps (", warmup, ")");
  const double progress = std::min(1.0, static_cast<double>(step - warmup) / static_cast<double>(total - warmup));
  const double decay =
      schedule.type == config::LrScheduleType::kWarmupDecayLR ? 1.0 - progress : 0.5 * (1.0 + std::cos(M_PI * progress));
  return peak_lr * (p.min_ratio + (1.0 - p.min_ratio) * decay);
}

int64_t run_steps(const config::TrainConfig& train, int64_t batches_per_epoch, int64_t accumulation) {
  if (train.max_steps > 0) return train.max_steps;
  return std::max<int64_t>(1, batches_per_epoch / accumulation) * train.epochs;
}

}  // namespace hllm::runtime
