// Partitioning a step's samples into equal-sized groups of nearly equal cost: the deterministic sorted
// greedy (longest-processing-time first) with a capacity, then swaps. Samples are taken from the costliest
// down, each into the group with room whose load it raises least (ties: the lower group; equal costs: the
// lower sample); then, while swapping a sample of the heaviest group with one of another group lowers the
// larger of the two loads below the heaviest, the best such swap is made (ties: the lower group, the earlier
// samples). The greedy alone leaves the heaviest of a few samples per group well above the mean; the swaps
// take most of that back. The result is a pure function of the costs (issue "equal work on every rank": the
// balanced global batch).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace hllm::data {

// `costs`: one per sample; `groups` of exactly costs.size() / groups samples each (costs.size() must be a
// multiple); `start`: each group's cost before any sample (empty: 0), such as work it has anyway. Returns
// each group's sample indices, ascending.
std::vector<std::vector<int64_t>> partition_by_cost(const std::vector<double>& costs, int groups,
                                                    std::vector<double> start = {});

// The same greedy for samples that share work: a sample is a set of items (a window's items) plus a cost
// of its own (its positions), and a group computes each distinct item once (a micro-batch encodes its
// distinct items once), so a sample costs a group its own cost plus its items the group does not hold yet.
// `start_items`: each group's items before any sample (its sampled negatives). Samples go from the
// costliest alone down, each to the group with room whose load it raises least (ties: the lower group), then
// the swaps.
std::vector<std::vector<int64_t>> partition_item_sets(const std::vector<std::vector<int64_t>>& sample_items,
                                                      const std::vector<double>& own_costs,
                                                      const std::function<double(int64_t)>& item_cost, int groups,
                                                      const std::vector<std::vector<int64_t>>& start_items);

}  // namespace hllm::data
