#include "data/cost_partition.h"

#include <algorithm>
#include <numeric>

#include "common/error.h"

namespace hllm::data {

std::vector<std::vector<int64_t>> partition_by_cost(const std::vector<double>& costs, int groups) {
  HLLM_CHECK(groups >= 1 && costs.size() % static_cast<size_t>(groups) == 0, "partition_by_cost: ", costs.size(),
             " samples into ", groups, " equal groups");
  const size_t capacity = costs.size() / static_cast<size_t>(groups);
  std::vector<int64_t> order(costs.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return costs[a] > costs[b]; });
  std::vector<std::vector<int64_t>> parts(groups);
  std::vector<double> load(groups, 0.0);
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

}  // namespace hllm::data
