#include "runtime/loss_health.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <vector>

#include "common/error.h"

namespace hllm::runtime {

using models::kHealthFields;
using models::kNegativesKeptMin;

void LossHealth::add(const at::Tensor& health) {
  HLLM_ASSERT(health.numel() == kHealthFields, "a loss health of ", health.numel(), " values");
  const at::Tensor host = health.detach().to(at::kCPU, at::kDouble).contiguous();
  LossHealth one;
  one.batches = 1;
  std::copy(host.data_ptr<double>(), host.data_ptr<double>() + kHealthFields, one.values.begin());
  add(one);
}

void LossHealth::add(const LossHealth& other) {
  if (other.batches == 0) return;
  for (int64_t f = 0; f < kHealthFields; ++f) {
    values[f] = f == kNegativesKeptMin ? (batches == 0 ? other.values[f] : std::min(values[f], other.values[f]))
                                       : values[f] + other.values[f];
  }
  batches += other.batches;
}

LossHealth LossHealth::over(parallel::Communicator& group) const {
  // Sums in one all_reduce; the minimum as the maximum of its negation (a rank without batches offers -inf).
  at::Tensor sums = to_row();
  sums[1 + kNegativesKeptMin] = 0.0;
  at::Tensor least = at::full({1}, batches > 0 ? -values[kNegativesKeptMin] : -std::numeric_limits<double>::infinity(),
                              at::kDouble);
  auto a = group.all_reduce(sums, parallel::ReduceOp::kSum);
  auto b = group.all_reduce(least, parallel::ReduceOp::kMax);
  a->wait();
  b->wait();
  LossHealth all = from_row(sums);
  all.values[kNegativesKeptMin] = -least.item<double>();
  return all;
}

double LossHealth::mean(int64_t field) const {
  if (field == kNegativesKeptMin) return values[field];
  return values[field] / static_cast<double>(std::max<int64_t>(1, batches));
}

nlohmann::json LossHealth::to_json() const {
  nlohmann::json out = nlohmann::json::object();
  if (batches == 0) return out;
  for (int64_t f = 0; f < kHealthFields; ++f) out[models::health_field_name(f)] = mean(f);
  return out;
}

std::string LossHealth::summary() const {
  if (batches == 0) return "";
  char text[160];
  std::snprintf(text, sizeof(text), "negatives %.1f (min %.0f, filtered %.1f%%) cos %+.2f/%+.2f items %.2f scale %.1f",
                mean(models::kNegativesKept), mean(kNegativesKeptMin), 100 * mean(models::kFilteredShare),
                mean(models::kPositiveCosine), mean(models::kNegativeCosine), mean(models::kItemCosine),
                mean(models::kLogitScale));
  return text;
}

at::Tensor LossHealth::to_row() const {
  std::vector<double> row = {static_cast<double>(batches)};
  row.insert(row.end(), values.begin(), values.end());
  return at::tensor(row, at::kDouble);
}

LossHealth LossHealth::from_row(const at::Tensor& row) {
  HLLM_ASSERT(row.numel() == 1 + kHealthFields, "a loss health row of ", row.numel(), " values");
  const at::Tensor host = row.to(at::kCPU, at::kDouble).contiguous();
  LossHealth out;
  out.batches = static_cast<int64_t>(host[0].item<double>());
  for (int64_t f = 0; f < kHealthFields; ++f) out.values[f] = host[1 + f].item<double>();
  return out;
}

}  // namespace hllm::runtime
