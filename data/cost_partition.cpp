#include "data/cost_partition.h"

#include <algorithm>
#include <numeric>
#include <set>

#include "common/error.h"

namespace hllm::data {

std::vector<std::vector<int64_t>> partition_by_cost(const std::vector<double>& costs, int groups,
                                                    std::vector<double> start) {
  HLLM_CHECK(groups >= 1 && costs.size() % static_cast<size_t>(groups) == 0, "partition_by_cost: ", costs.size(),
             " samples into ", groups, " equal groups");
  const size_t capacity = costs.size() / static_cast<size_t>(groups);
  std::vector<int64_t> order(costs.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return costs[a] > costs[b]; });
  std::vector<std::vector<int64_t>> parts(groups);
  HLLM_CHECK(start.empty() || start.size() == static_cast<size_t>(groups), "partition_by_cost: ", start.size(),
             " starting costs for ", groups, " groups");
  std::vector<double> load = start.empty() ? std::vector<double>(groups, 0.0) : std::move(start);
  for (const int64_t sample : order) {
    int best = -1;
    for (int g = 0; g < groups; ++g) {
      if (parts[g].size() < capacity && (best < 0 || load[g] < load[best])) best = g;
    }
    parts[best].push_back(sample);
    load[best] += costs[sample];
  }
  for (auto& part : parts) std::sort(part.begin(), part.end());
  return parts;
}

std::vector<std::vector<int64_t>> partition_item_sets(const std::vector<std::vector<int64_t>>& sample_items,
                                                      const std::vector<double>& own_costs,
                                                      const std::function<double(int64_t)>& item_cost, int groups,
                                                      const std::vector<std::vector<int64_t>>& start_items) {
  const size_t n = sample_items.size();
  HLLM_CHECK(groups >= 1 && n % static_cast<size_t>(groups) == 0 && own_costs.size() == n &&
                 start_items.size() == static_cast<size_t>(groups),
             "partition_item_sets: ", n, " samples into ", groups, " equal groups");
  const size_t capacity = n / static_cast<size_t>(groups);
  std::vector<std::set<int64_t>> held(groups);
  std::vector<double> load(groups, 0.0);
  for (int g = 0; g < groups; ++g) {
    for (const int64_t item : start_items[g]) {
      if (held[g].insert(item).second) load[g] += item_cost(item);
    }
  }
  std::vector<double> alone(n);
  for (size_t i = 0; i < n; ++i) {
    const std::set<int64_t> distinct(sample_items[i].begin(), sample_items[i].end());
    alone[i] = own_costs[i];
    for (const int64_t item : distinct) alone[i] += item_cost(item);
  }
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return alone[a] > alone[b]; });
  std::vector<std::vector<int64_t>> parts(groups);
  for (const int64_t sample : order) {
    int best = -1;
    double best_load = 0;
    for (int g = 0; g < groups; ++g) {
      if (parts[g].size() >= capacity) continue;
      double added = own_costs[sample];
      std::set<int64_t> fresh;
      for (const int64_t item : sample_items[sample]) {
        if (!held[g].count(item) && fresh.insert(item).second) added += item_cost(item);
      }
      if (best < 0 || load[g] + added < best_load) {
        best = g;
        best_load = load[g] + added;
      }
    }
    parts[best].push_back(sample);
    load[best] = best_load;
    held[best].insert(sample_items[sample].begin(), sample_items[sample].end());
  }
  for (auto& part : parts) std::sort(part.begin(), part.end());
  return parts;
}

}  // namespace hllm::data
