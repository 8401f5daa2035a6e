#include "runtime/step_census.h"

#include <ATen/ATen.h>

#include <cmath>

namespace hllm::runtime {
namespace {

enum Column : int64_t {
  kLoss, kSamples, kHealthBatches, kFilteredSum, kItemCosineSum, kNonFinite, kFlops, kSeconds, kWaited, kColumns
};

}  // namespace

RankStep RankStep::of(const StepResult& result, double flops, double seconds, double waited_seconds) {
  RankStep step;
  step.loss = result.loss;
  step.samples = result.samples;
  step.health_batches = result.health.batches;
  step.filtered_sum = result.health.values[models::kFilteredShare];
  step.item_cosine_sum = result.health.values[models::kItemCosine];
  step.non_finite = result.skipped || !std::isfinite(result.loss);
  step.flops = flops;
  step.seconds = seconds;
  step.waited_seconds = waited_seconds;
  return step;
}

std::vector<RankStep> gather_step_census(const RankStep& mine, parallel::Communicator& world) {
  const at::Tensor row = at::tensor({mine.loss, static_cast<double>(mine.samples), static_cast<double>(mine.health_batches),
                                     mine.filtered_sum, mine.item_cosine_sum, mine.non_finite ? 1.0 : 0.0, mine.flops,
                                     mine.seconds, mine.waited_seconds},
                                    at::kDouble);
  at::Tensor all = at::empty({world.size() * kColumns}, at::kDouble);
  world.all_gather(row, all)->wait();
  const auto values = all.accessor<double, 1>();
  std::vector<RankStep> ranks(world.size());
  for (int r = 0; r < world.size(); ++r) {
    const auto at = [&](Column c) { return values[r * kColumns + c]; };
    RankStep& s = ranks[r];
    s.loss = at(kLoss);
    s.samples = static_cast<int64_t>(at(kSamples));
    s.health_batches = static_cast<int64_t>(at(kHealthBatches));
    s.filtered_sum = at(kFilteredSum);
    s.item_cosine_sum = at(kItemCosineSum);
    s.non_finite = at(kNonFinite) != 0;
    s.flops = at(kFlops);
    s.seconds = at(kSeconds);
    s.waited_seconds = at(kWaited);
  }
  return ranks;
}

}  // namespace hllm::runtime
