#include "runtime/step_log.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace hllm::runtime {

StepLog::StepLog(const parallel::Topology& topology, const RunLog& log, bool bar, int64_t total_steps)
    : topology_(topology),
      log_(log),
      total_(total_steps),
      bar_(bar && topology.rank() == 0, total_steps),
      shown_loss_(std::nan("")) {}

double StepLog::seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

double StepLog::eta_seconds(int64_t steps_done) const {
  return seconds() / static_cast<double>(steps_done) * static_cast<double>(total_ - steps_done);
}

double StepLog::end_interval(int64_t steps_done, int64_t epoch, double lr, LogInterval* interval,
                             const BalanceMeter::Interval& balance) {
  at::Tensor mean_loss = at::full({1}, interval->loss / static_cast<double>(std::max<int64_t>(1, interval->steps)), at::kDouble);
  topology_.dp_group().all_reduce(mean_loss, parallel::ReduceOp::kSum)->wait();
  const double loss = mean_loss.item<double>() / topology_.dp();
  const double seconds = std::chrono::duration<double>(Clock::now() - interval_start_).count();
  // Samples and text tokens of every data-parallel replica (under pp, counted by the first stages).
  at::Tensor counts = at::tensor({static_cast<double>(interval->samples), static_cast<double>(interval->tokens)}, at::kDouble);
  topology_.world().all_reduce(counts, parallel::ReduceOp::kSum)->wait();
  const double samples = counts[0].item<double>(), tokens = counts[1].item<double>();
  if (!interval->logged) interval->first_loss = loss;
  interval->logged = true;
  shown_loss_ = loss;
  shown_rate_ = samples / seconds;
  const double norm = interval->grad_norm / static_cast<double>(interval->steps);
  const LossHealth health = interval->health.over(topology_.world());  // under pp, the last stages'
  // Per tower, the interval's mean gradient norm (the same on every rank).
  std::vector<std::pair<std::string, double>> tower_norms;
  for (size_t t = 0; t < interval->tower_grad_norms.size() && t < towers_.size(); ++t) {
    tower_norms.emplace_back(towers_[t], interval->tower_grad_norms[t] / static_cast<double>(interval->steps));
  }
  std::string norms_text;
  for (const auto& [tower, norm] : tower_norms) {
    char text[64];
    std::snprintf(text, sizeof(text), " %s %.3f", tower.c_str(), norm);
    norms_text += text;
  }
  if (topology_.rank() == 0) {
    bar_.clear();
    std::printf("step %lld/%lld epoch %lld loss %.4f lr %.2e grad_norm %.3f samples/s %.0f",
                static_cast<long long>(steps_done), static_cast<long long>(total_), static_cast<long long>(epoch), loss,
                lr, norm, samples / seconds);
    if (tokens > 0) std::printf(" tokens/s %.0f", tokens / seconds);
    std::printf(" ETA %s\n", format_duration(eta_seconds(steps_done)).c_str());
    if (health.batches > 0) {
      std::printf("  health: %s%s%s", health.summary().c_str(), norms_text.empty() ? "" : "; grad_norm",
                  norms_text.c_str());
      if (balance.measured) {
        std::printf("; balance %.2fx, waiting %.0f%%", balance.flops_max_over_mean, 100 * balance.wait_share);
      }
      std::printf("\n");
    }
    std::fflush(stdout);
  }
  nlohmann::json record{{"step", steps_done}, {"epoch", epoch}, {"loss", loss}, {"lr", lr},
                        {"grad_norm", norm}, {"samples_per_second", samples / seconds}};
  if (tokens > 0) record["tokens_per_second"] = tokens / seconds;
  record.update(health.to_json());
  for (const auto& [tower, norm] : tower_norms) record["grad_norm_" + tower] = norm;
  if (balance.measured) {
    record["flops_max_over_mean"] = balance.flops_max_over_mean;
    record["wait_share"] = balance.wait_share;
  }
  log_.record(record.dump());
  interval->clear();
  interval_start_ = Clock::now();
  return loss;
}

void StepLog::update_bar(int64_t steps_done) { bar_.update(steps_done, shown_loss_, shown_rate_, eta_seconds(steps_done)); }

}  // namespace hllm::runtime
