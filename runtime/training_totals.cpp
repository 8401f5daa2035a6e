#include "runtime/training_totals.h"

#include <ATen/ATen.h>

namespace hllm::runtime {

void TrainingTotals::add_step(const StepResult& result, size_t towers, parallel::Communicator& world) {
  // [samples, tokens and squared lengths per tower], as doubles: exact below 2^53, far above any run's count.
  std::vector<double> counts(1 + 2 * towers, 0.0);
  counts[0] = static_cast<double>(result.samples);
  for (size_t t = 0; t < result.work.size() && t < towers; ++t) {
    counts[1 + 2 * t] = static_cast<double>(result.work[t].tokens);
    counts[2 + 2 * t] = static_cast<double>(result.work[t].squared_lengths);
  }
  at::Tensor summed = at::tensor(counts, at::kDouble);
  world.all_reduce(summed, parallel::ReduceOp::kSum)->wait();
  const double* sums = summed.data_ptr<double>();
  towers_.resize(towers);
  samples_ += static_cast<int64_t>(sums[0]);
  for (size_t t = 0; t < towers; ++t) {
    towers_[t] += {static_cast<int64_t>(sums[1 + 2 * t]), static_cast<int64_t>(sums[2 + 2 * t])};
  }
}

nlohmann::json TrainingTotals::to_json() const {
  nlohmann::json towers = nlohmann::json::array();
  for (const auto& work : towers_) towers.push_back({{"tokens", work.tokens}, {"squared_lengths", work.squared_lengths}});
  return {{"samples", samples_}, {"towers", towers}, {"seconds", seconds()}, {"rank_seconds", rank_seconds()}};
}

void TrainingTotals::from_json(const nlohmann::json& saved) {
  *this = TrainingTotals();
  if (saved.is_null()) return;
  samples_ = saved.at("samples").get<int64_t>();
  for (const auto& work : saved.at("towers")) {
    towers_.push_back({work.at("tokens").get<int64_t>(), work.at("squared_lengths").get<int64_t>()});
  }
  earlier_seconds_ = saved.at("seconds").get<double>();
  earlier_rank_seconds_ = saved.at("rank_seconds").get<double>();
}

}  // namespace hllm::runtime
