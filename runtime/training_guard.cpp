#include "runtime/training_guard.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

namespace hllm::runtime {
namespace {

double median(std::vector<double> values) {
  const size_t middle = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + middle, values.end());
  if (values.size() % 2 == 1) return values[middle];
  const double upper = values[middle];
  return (*std::max_element(values.begin(), values.begin() + middle) + upper) / 2;
}

}  // namespace

const char* guard_name(Guard guard) {
  switch (guard) {
    case Guard::kNone: return "none";
    case Guard::kNonFinite: return "non_finite";
    case Guard::kSpike: return "spike";
    case Guard::kCollapse: return "collapse";
  }
  return "none";
}

GuardReading GuardReading::of(const std::vector<RankStep>& ranks) {
  double loss = 0, read = 0, samples = 0, batches = 0, filtered = 0, cosine = 0;
  bool non_finite = false;
  for (const RankStep& r : ranks) {
    if (r.samples > 0) {  // under pp the first stage reads: its loss is the pipeline's
      loss += r.loss;
      read += 1;
    }
    samples += static_cast<double>(r.samples);
    batches += static_cast<double>(r.health_batches);
    filtered += r.filtered_sum;
    cosine += r.item_cosine_sum;
    non_finite |= r.non_finite;
  }
  GuardReading reading;
  reading.loss = read > 0 ? loss / read : 0;
  reading.samples = static_cast<int64_t>(samples);
  reading.health_batches = static_cast<int64_t>(batches);
  if (reading.health_batches > 0) {
    reading.kept_share = 1 - filtered / batches;
    reading.item_cosine = cosine / batches;
  }
  reading.non_finite = non_finite || !std::isfinite(reading.loss);
  return reading;
}

nlohmann::json GuardHistory::to_json() const {
  return {{"losses", std::vector<double>(losses.begin(), losses.end())}, {"collapsed_steps", collapsed_steps}};
}

GuardHistory GuardHistory::from_json(const nlohmann::json& json) {
  GuardHistory history;
  if (json.is_null()) return history;
  for (const double loss : json.at("losses").get<std::vector<double>>()) history.losses.push_back(loss);
  history.collapsed_steps = json.at("collapsed_steps").get<int64_t>();
  return history;
}

std::string Trip::describe() const {
  char text[256];
  switch (guard) {
    case Guard::kNone: return "no trip";
    case Guard::kNonFinite:
      return "non_finite: the step's loss or gradients are NaN or Inf (loss " + std::to_string(value) + ")";
    case Guard::kSpike:
      std::snprintf(text, sizeof text, "spike: %s %.6g above the threshold %.6g (train.guard.spike_factor x the median)",
                    metric.c_str(), value, threshold);
      return text;
    case Guard::kCollapse:
      std::snprintf(text, sizeof text, "collapse: %s %.6g %s the threshold %.6g for train.guard.collapse_steps in a row",
                    metric.c_str(), value, metric == "kept_share" ? "below" : "above", threshold);
      return text;
  }
  return "";
}

Trip TrainingGuard::judge(const GuardReading& reading, GuardHistory& history) {
  ++judged_;
  if (reading.non_finite) {
    ++non_finite_;
    return {Guard::kNonFinite, "loss_or_gradients", reading.loss, 0};
  }
  if (reading.samples == 0) return {};  // nothing was read: nothing to judge or remember
  const auto window = static_cast<size_t>(config_.spike_window);
  if (config_.spike_factor > 0 && history.losses.size() >= window) {
    const double typical = median({history.losses.begin(), history.losses.end()});
    if (typical > 0) max_spike_ratio_ = std::max(max_spike_ratio_, reading.loss / typical);
    if (reading.loss > config_.spike_factor * typical) {
      return {Guard::kSpike, "loss", reading.loss, config_.spike_factor * typical};
    }
  }
  int64_t collapsed = history.collapsed_steps;
  Trip looks_collapsed;
  if (reading.health_batches > 0) {
    saw_health_ = true;
    min_kept_share_ = std::min(min_kept_share_, reading.kept_share);
    max_item_cosine_ = std::max(max_item_cosine_, reading.item_cosine);
    if (config_.collapse_min_kept_share > 0 && reading.kept_share < config_.collapse_min_kept_share) {
      looks_collapsed = {Guard::kCollapse, "kept_share", reading.kept_share, config_.collapse_min_kept_share};
    } else if (config_.collapse_max_item_cosine < 1 && reading.item_cosine > config_.collapse_max_item_cosine) {
      looks_collapsed = {Guard::kCollapse, "item_cosine", reading.item_cosine, config_.collapse_max_item_cosine};
    }
    collapsed = looks_collapsed ? collapsed + 1 : 0;
    longest_streak_ = std::max(longest_streak_, collapsed);
    if (collapsed >= config_.collapse_steps) return looks_collapsed;
  }
  history.collapsed_steps = collapsed;
  history.losses.push_back(reading.loss);
  while (history.losses.size() > window) history.losses.pop_front();
  return {};
}

nlohmann::json TrainingGuard::observed() const {
  nlohmann::json out = {{"steps", judged_}, {"non_finite_steps", non_finite_}, {"longest_collapsed_streak", longest_streak_}};
  out["max_spike_ratio"] = max_spike_ratio_ > 0 ? nlohmann::json(max_spike_ratio_) : nlohmann::json();
  out["min_kept_share"] = saw_health_ ? nlohmann::json(min_kept_share_) : nlohmann::json();
  out["max_item_cosine"] = saw_health_ ? nlohmann::json(max_item_cosine_) : nlohmann::json();
  return out;
}

}  // namespace hllm::runtime
