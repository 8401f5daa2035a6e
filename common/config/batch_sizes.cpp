#include "common/config/batch_sizes.h"

#include "common/config/config.h"
#include "common/error.h"

namespace hllm::config {
namespace {

std::string describe(int tbs, int micro, int gas, int dp) {
  return detail::concat("train_batch_size=", tbs, ", train_micro_batch_size_per_gpu=", micro,
                        ", gradient_accumulation_steps=", gas, ", dp=", dp);
}

[[noreturn]] void fail(const std::string& what, int tbs, int micro, int gas, int dp) {
  throw InputError("batch sizes: " + what + " (" + describe(tbs, micro, gas, dp) +
                   "; the rule is train_batch_size = train_micro_batch_size_per_gpu x "
                   "gradient_accumulation_steps x dp, and 0 means derive it)");
}

}  // namespace

BatchSizes resolve_batch_sizes(int tbs, int micro, int gas, int dp) {
  if (dp < 1) fail("the data-parallel size must be at least 1", tbs, micro, gas, dp);
  if (tbs < 0 || micro < 0 || gas < 0) fail("sizes must not be negative", tbs, micro, gas, dp);
  if (tbs == 0 && micro == 0) fail("set train_batch_size or train_micro_batch_size_per_gpu", tbs, micro, gas, dp);
  if (tbs == 0) {
    if (gas == 0) gas = 1;
    return {micro * gas * dp, micro, gas};
  }
  if (micro == 0) {
    if (gas == 0) gas = 1;
    if (tbs % (gas * dp) != 0) fail("train_batch_size is not divisible by gradient_accumulation_steps x dp", tbs, micro, gas, dp);
    return {tbs, tbs / (gas * dp), gas};
  }
  if (gas == 0) {
    if (tbs % (micro * dp) != 0) fail("train_batch_size is not divisible by train_micro_batch_size_per_gpu x dp", tbs, micro, gas, dp);
    return {tbs, micro, tbs / (micro * dp)};
  }
  if (tbs != micro * gas * dp) fail("the three sizes disagree", tbs, micro, gas, dp);
  return {tbs, micro, gas};
}

BatchSizes resolve_batch_sizes(const Config& config, int data_parallel_size) {
  return resolve_batch_sizes(config.train_batch_size, config.train_micro_batch_size_per_gpu,
                             config.gradient_accumulation_steps, data_parallel_size);
}

}  // namespace hllm::config
