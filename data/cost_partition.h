// Partitioning a step's samples into equal-sized groups of nearly equal cost: the deterministic sorted
// greedy (longest-processing-time first) with a capacity. Samples are taken from the costliest down, each
// into the cheapest group that still has room (ties: the lower group; equal costs: the lower sample). The
// result is a pure function of the costs (issue "equal work on every rank": the balanced global batch).
#pragma once

#include <cstdint>
#include <vector>

namespace hllm::data {

// `costs`: one per sample; `groups` of exactly costs.size() / groups samples each (costs.size() must be a
// multiple). Returns each group's sample indices, ascending.
std::vector<std::vector<int64_t>> partition_by_cost(const std::vector<double>& costs, int groups);

}  // namespace hllm::data
