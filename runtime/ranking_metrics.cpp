#include "runtime/ranking_metrics.h"

#include <ATen/ATen.h>

#include <cmath>
#include <limits>

#include "common/error.h"

namespace hllm::runtime {

RankingMetrics::RankingMetrics(std::vector<int64_t> ks)
    : ks_(std::move(ks)), recall_(ks_.size(), 0.0), ndcg_(ks_.size(), 0.0) {}

std::vector<int64_t> RankingMetrics::ranks(const at::Tensor& scores, const std::vector<int64_t>& targets,
                                           const std::vector<int64_t>& history_offsets,
                                           const std::vector<int64_t>& history_items) {
  const int64_t B = scores.size(0), I = scores.size(1);
  HLLM_CHECK(static_cast<int64_t>(targets.size()) == B && static_cast<int64_t>(history_offsets.size()) == B + 1,
             "ranking: ", targets.size(), " targets and ", history_offsets.size(), " history offsets for ", B, " rows");
  at::Tensor masked = scores.detach().to(at::kFloat).to(at::kCPU).clone();
  float* s = masked.data_ptr<float>();
  const float minus_infinity = -std::numeric_limits<float>::infinity();
  std::vector<int64_t> out(static_cast<size_t>(B), 0);
  for (int64_t r = 0; r < B; ++r) {
    if (targets[r] <= 0) continue;  // filler row
    HLLM_CHECK(targets[r] < I, "ranking: target ", targets[r], " outside the ", I, " scored items");
    float* row = s + r * I;
    row[0] = minus_infinity;  // padding item
    for (int64_t h = history_offsets[r]; h < history_offsets[r + 1]; ++h) row[history_items[h]] = minus_infinity;
    const float target = row[targets[r]];
    int64_t rank = 0;
    if (target == minus_infinity) {
      rank = I;  // masked (it was in the history): a miss
    } else {
      for (int64_t i = 0; i < I; ++i) rank += row[i] > target ? 1 : 0;
    }
    out[static_cast<size_t>(r)] = rank;
  }
  return out;
}

void RankingMetrics::add(const at::Tensor& scores, const std::vector<int64_t>& targets,
                         const std::vector<int64_t>& history_offsets, const std::vector<int64_t>& history_items) {
  add_ranks(ranks(scores, targets, history_offsets, history_items), targets);
}

void RankingMetrics::add_ranks(const std::vector<int64_t>& ranks, const std::vector<int64_t>& targets) {
  HLLM_CHECK(ranks.size() == targets.size(), "ranking: ", ranks.size(), " ranks for ", targets.size(), " targets");
  for (size_t r = 0; r < targets.size(); ++r) {
    if (targets[r] <= 0) continue;  // filler row
    ++users_;
    for (size_t k = 0; k < ks_.size(); ++k) {
      if (ranks[r] < ks_[k]) {
        recall_[k] += 1.0;
        ndcg_[k] += 1.0 / std::log2(static_cast<double>(ranks[r]) + 2.0);
      }
    }
  }
}

std::vector<double> RankingMetrics::sums() const {
  std::vector<double> out{static_cast<double>(users_)};
  out.insert(out.end(), recall_.begin(), recall_.end());
  out.insert(out.end(), ndcg_.begin(), ndcg_.end());
  return out;
}

void RankingMetrics::set_sums(const std::vector<double>& sums) {
  HLLM_CHECK(sums.size() == 1 + 2 * ks_.size(), "ranking: ", sums.size(), " sums for ", ks_.size(), " cut-offs");
  users_ = static_cast<int64_t>(std::llround(sums[0]));
  for (size_t k = 0; k < ks_.size(); ++k) {
    recall_[k] = sums[1 + k];
    ndcg_[k] = sums[1 + ks_.size() + k];
  }
}

std::map<std::string, double> RankingMetrics::averages() const {
  std::map<std::string, double> out;
  for (size_t k = 0; k < ks_.size(); ++k) {
    const std::string at = "@" + std::to_string(ks_[k]);
    out["recall" + at] = users_ ? recall_[k] / users_ : 0.0;
    out["ndcg" + at] = users_ ? ndcg_[k] / users_ : 0.0;
  }
  return out;
}

}  // namespace hllm::runtime
