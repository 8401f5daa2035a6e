// DeepSpeed's batch-size rule: train_batch_size = micro_batch x gradient_accumulation x dp.
#pragma once

namespace hllm::config {

struct Config;

struct BatchSizes {
  int train_batch_size = 0;
  int micro_batch_per_rank = 0;
  int gradient_accumulation_steps = 0;
};

// Fills in whichever of the three is 0 (unset) from the others, as DeepSpeed does: with none set, an
// error; with only the micro batch, accumulation = 1; with only the global batch, accumulation = 1.
// Throws InputError naming every value when they cannot agree.
BatchSizes resolve_batch_sizes(int train_batch_size, int micro_batch_per_rank, int gradient_accumulation_steps,
                               int data_parallel_size);

BatchSizes resolve_batch_sizes(const Config& config, int data_parallel_size);

}  // namespace hllm::config
