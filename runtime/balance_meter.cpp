#include "runtime/balance_meter.h"

#include <algorithm>
#include <cstdio>

namespace hllm::runtime {

void BalanceMeter::add(const std::vector<RankStep>& ranks) {
  flops_.resize(ranks.size(), 0);
  seconds_.resize(ranks.size(), 0);
  waited_.resize(ranks.size(), 0);
  double flops = 0, busiest = 0, readers = 0, waited = 0, seconds = 0;
  for (size_t r = 0; r < ranks.size(); ++r) {
    flops_[r] += ranks[r].flops;
    seconds_[r] += ranks[r].seconds;
    waited_[r] += ranks[r].waited_seconds;
    waited += ranks[r].waited_seconds;
    seconds += ranks[r].seconds;
    if (ranks[r].samples > 0 || ranks[r].flops > 0) {
      flops += ranks[r].flops;
      busiest = std::max(busiest, ranks[r].flops);
      readers += 1;
    }
  }
  interval_waited_ += waited;
  interval_seconds_ += seconds;
  if (flops <= 0) return;  // nothing read anywhere (every window skipped)
  const double ratio = busiest / (flops / readers);
  ++steps_;
  ratio_sum_ += ratio;
  ratio_max_ = std::max(ratio_max_, ratio);
  ++ratio_bins_[std::min<int64_t>(kBins - 1, static_cast<int64_t>((ratio - 1.0) / kBinWidth))];
  interval_ratio_sum_ += ratio;
  ++interval_steps_;
}

double BalanceMeter::percentile(double q) const {
  int64_t seen = 0;
  for (int b = 0; b < kBins; ++b) {
    seen += ratio_bins_[b];
    if (static_cast<double>(seen) >= q * static_cast<double>(steps_)) return 1.0 + (b + 1) * kBinWidth;  // the bin's top
  }
  return ratio_max_;
}

nlohmann::json BalanceMeter::report() const {
  nlohmann::json out = {{"steps", steps_}, {"flops_per_rank", flops_}};
  const auto readers = std::count_if(flops_.begin(), flops_.end(), [](double f) { return f > 0; });
  double total = 0;
  for (const double f : flops_) total += f;
  if (readers > 0 && total > 0) {
    out["flops_max_over_mean"] = *std::max_element(flops_.begin(), flops_.end()) / (total / static_cast<double>(readers));
  }
  if (steps_ > 0) {
    out["step_flops_max_over_mean"] = {{"mean", ratio_sum_ / static_cast<double>(steps_)},
                                       {"p90", std::min(ratio_max_, percentile(0.9))},
                                       {"max", ratio_max_}};
  }
  std::vector<double> shares;
  for (size_t r = 0; r < seconds_.size(); ++r) shares.push_back(seconds_[r] > 0 ? waited_[r] / seconds_[r] : 0.0);
  out["wait_share_per_rank"] = shares;
  if (!shares.empty()) {
    double sum = 0;
    for (const double s : shares) sum += s;
    out["wait_share_mean"] = sum / static_cast<double>(shares.size());
    out["wait_share_max"] = *std::max_element(shares.begin(), shares.end());
  }
  return out;
}

std::string BalanceMeter::summary() const {
  if (steps_ == 0) return "";
  const nlohmann::json r = report();
  char text[320];
  int length = std::snprintf(text, sizeof text, "balance: the busiest rank did %.2fx the mean rank's FLOPs per step (p90 %.2fx",
                             r.at("step_flops_max_over_mean").at("mean").get<double>(),
                             r.at("step_flops_max_over_mean").at("p90").get<double>());
  if (r.contains("flops_max_over_mean")) {
    length += std::snprintf(text + length, sizeof text - length, "; %.2fx over the run", r.at("flops_max_over_mean").get<double>());
  }
  length += std::snprintf(text + length, sizeof text - length, ")");
  // Per-rank sums exist unless the run resumed on another world size and has not stepped since.
  const auto& shares = r.at("wait_share_per_rank");
  if (!shares.empty()) {
    size_t most = 0;
    for (size_t i = 0; i < shares.size(); ++i) {
      if (shares[i].get<double>() > shares[most].get<double>()) most = i;
    }
    std::snprintf(text + length, sizeof text - length,
                  ", ranks waited for communication %.0f%% of their step time (most: rank %zu, %.0f%%)",
                  100 * r.at("wait_share_mean").get<double>(), most, 100 * shares[most].get<double>());
  }
  return text;
}

BalanceMeter::Interval BalanceMeter::end_interval() {
  Interval out;
  out.measured = interval_steps_ > 0;
  if (out.measured) out.flops_max_over_mean = interval_ratio_sum_ / static_cast<double>(interval_steps_);
  out.wait_share = interval_seconds_ > 0 ? interval_waited_ / interval_seconds_ : 0;
  interval_ratio_sum_ = interval_waited_ = interval_seconds_ = 0;
  interval_steps_ = 0;
  return out;
}

nlohmann::json BalanceMeter::to_json() const {
  return {{"steps", steps_},           {"flops", flops_},         {"seconds", seconds_},
          {"waited", waited_},         {"ratio_bins", ratio_bins_}, {"ratio_sum", ratio_sum_},
          {"ratio_max", ratio_max_},   {"interval", {interval_ratio_sum_, interval_waited_, interval_seconds_,
                                                     static_cast<double>(interval_steps_)}}};
}

void BalanceMeter::from_json(const nlohmann::json& saved, int world_size) {
  *this = BalanceMeter();
  if (saved.is_null()) return;
  steps_ = saved.at("steps").get<int64_t>();
  ratio_bins_ = saved.at("ratio_bins").get<std::vector<int64_t>>();
  ratio_bins_.resize(kBins, 0);
  ratio_sum_ = saved.at("ratio_sum").get<double>();
  ratio_max_ = saved.at("ratio_max").get<double>();
  const auto interval = saved.at("interval").get<std::vector<double>>();
  interval_ratio_sum_ = interval.at(0);
  interval_waited_ = interval.at(1);
  interval_seconds_ = interval.at(2);
  interval_steps_ = static_cast<int64_t>(interval.at(3));
  const auto flops = saved.at("flops").get<std::vector<double>>();
  if (static_cast<int>(flops.size()) != world_size) return;  // another layout: the per-rank sums start again
  flops_ = flops;
  seconds_ = saved.at("seconds").get<std::vector<double>>();
  waited_ = saved.at("waited").get<std::vector<double>>();
}

}  // namespace hllm::runtime
