// The metrics table hllm_launch and hllm_eval print at the end: one row per split, Recall@K / NDCG@K for the
// chosen K; a split whose metrics count cold and warm targets apart (a dataset with cold items) gets a row for
// each beside its own, with their numbers of users.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace hllm::launcher {

using MetricsRow = std::pair<std::string, const std::map<std::string, double>*>;

std::string metrics_table(const std::vector<MetricsRow>& rows, const std::vector<int>& ks);

}  // namespace hllm::launcher
