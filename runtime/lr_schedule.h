// The learning-rate schedule: linear warmup from warmup_min_ratio x lr to lr over warmup_num_steps (or
// warmup_ratio of the schedule's steps), then
// constant (WarmupLR), linear (WarmupDecayLR) or cosine (WarmupCosineLR) decay to min_ratio x lr at
// total_num_steps (and constant after). Pure: a function of the step, so resuming needs only the step.
#pragma once

#include <cstdint>

#include "common/config/config.h"

namespace hllm::runtime {

// warmup_num_steps, or warmup_ratio of `total_steps` rounded to the nearest step.
int64_t warmup_steps(const config::SchedulerParams& params, int64_t total_steps);

// The learning rate for optimizer step `step` (0-based). `run_steps` replaces total_num_steps when that is 0.
double learning_rate(const config::SchedulerConfig& schedule, double peak_lr, int64_t step, int64_t run_steps);

// The optimizer steps of a run: train.max_steps, else train.epochs of `batches_per_epoch` batches (per
// data-parallel rank) in steps of `accumulation` micro-batches (at least one step per epoch).
int64_t run_steps(const config::TrainConfig& train, int64_t batches_per_epoch, int64_t accumulation);

}  // namespace hllm::runtime
