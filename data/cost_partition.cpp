#include "data/cost_partition.h"

#include <algorithm>
#include <numeric>
#include <unordered_map>

#include "common/error.h"

namespace hllm::data {
namespace {

// One group of a partition: its samples, how many of them (and of its starting items) hold each item, and
// its load (its samples' own costs, and each distinct item once).
struct Group {
  std::vector<int64_t> samples;
  std::unordered_map<int64_t, int> holders;
  double load = 0;
};

// The samples' items, each counted once per sample.
using Distinct = std::vector<std::vector<int64_t>>;

// What group `g` would weigh with sample `out` (one of its own, or -1) replaced by `in` (or -1).
double load_after_swap(const Group& g, int64_t out, int64_t in, const Distinct& distinct,
                       const std::vector<double>& own, const std::function<double(int64_t)>& item_cost) {
  double load = g.load;
  auto holders = [&](int64_t item) {
    const auto it = g.holders.find(item);
    return it == g.holders.end() ? 0 : it->second;
  };
  if (out >= 0) {
    load -= own[out];
    for (const int64_t item : distinct[out]) {
      if (holders(item) == 1) load -= item_cost(item);
    }
  }
  if (in >= 0) {
    load += own[in];
    for (const int64_t item : distinct[in]) {
      const bool left = out >= 0 && std::binary_search(distinct[out].begin(), distinct[out].end(), item);
      if (holders(item) - (left ? 1 : 0) == 0) load += item_cost(item);
    }
  }
  return load;
}

void add(Group& g, int64_t sample, const Distinct& distinct, const std::vector<double>& own,
         const std::function<double(int64_t)>& item_cost) {
  g.load = load_after_swap(g, -1, sample, distinct, own, item_cost);
  for (const int64_t item : distinct[sample]) ++g.holders[item];
  g.samples.push_back(sample);
}

void remove(Group& g, int64_t sample, const Distinct& distinct, const std::vector<double>& own,
            const std::function<double(int64_t)>& item_cost) {
  g.load = load_after_swap(g, sample, -1, distinct, own, item_cost);
  for (const int64_t item : distinct[sample]) --g.holders[item];
  g.samples.erase(std::find(g.samples.begin(), g.samples.end(), sample));
}

// Swaps that lower the heaviest group: each round, of every swap of one of its samples with one of another
// group's, the one whose larger resulting load is least (ties: the lower group, then the earlier samples),
// while that is below the heaviest load. Bounded rounds keep it cheap; every round lowers the pair's peak.
void refine_by_swaps(std::vector<Group>& groups, const Distinct& distinct, const std::vector<double>& own,
                     const std::function<double(int64_t)>& item_cost) {
  const size_t rounds = 4 * distinct.size();
  for (size_t round = 0; round < rounds; ++round) {
    size_t h = 0;
    for (size_t g = 1; g < groups.size(); ++g) {
      if (groups[g].load > groups[h].load) h = g;
    }
    const double heaviest = groups[h].load;
    double best_peak = heaviest - 1e-9 * std::max(1.0, heaviest);
    int64_t best_group = -1, best_out = -1, best_in = -1;
    for (size_t g = 0; g < groups.size(); ++g) {
      if (g == h) continue;
      for (const int64_t out : groups[h].samples) {
        for (const int64_t in : groups[g].samples) {
          const double peak = std::max(load_after_swap(groups[h], out, in, distinct, own, item_cost),
                                       load_after_swap(groups[g], in, out, distinct, own, item_cost));
          if (peak < best_peak) {
            best_peak = peak;
            best_group = static_cast<int64_t>(g);
            best_out = out;
            best_in = in;
          }
        }
      }
    }
    if (best_group < 0) return;
    Group& other = groups[static_cast<size_t>(best_group)];
    remove(groups[h], best_out, distinct, own, item_cost);
    remove(other, best_in, distinct, own, item_cost);
    add(groups[h], best_in, distinct, own, item_cost);
    add(other, best_out, distinct, own, item_cost);
  }
}

}  // namespace

std::vector<std::vector<int64_t>> partition_by_cost(const std::vector<double>& costs, int groups,
                                                    std::vector<double> start) {
  HLLM_CHECK(start.empty() || start.size() == static_cast<size_t>(groups), "partition_by_cost: ", start.size(),
             " starting costs for ", groups, " groups");
  // Samples without items, each group's starting cost one item of its own (ids below zero).
  std::vector<std::vector<int64_t>> start_items(static_cast<size_t>(std::max(groups, 0)));
  for (size_t g = 0; g < start.size(); ++g) start_items[g] = {-1 - static_cast<int64_t>(g)};
  return partition_item_sets(std::vector<std::vector<int64_t>>(costs.size()), costs,
                             [&](int64_t item) { return start[static_cast<size_t>(-1 - item)]; }, groups,
                             start_items);
}

std::vector<std::vector<int64_t>> partition_item_sets(const std::vector<std::vector<int64_t>>& sample_items,
                                                      const std::vector<double>& own_costs,
                                                      const std::function<double(int64_t)>& item_cost, int groups,
                                                      const std::vector<std::vector<int64_t>>& start_items) {
  const size_t n = sample_items.size();
  HLLM_CHECK(groups >= 1 && n % static_cast<size_t>(groups) == 0 && own_costs.size() == n &&
                 start_items.size() == static_cast<size_t>(groups),
             "partition: ", n, " samples into ", groups, " equal groups");
  const size_t capacity = n / static_cast<size_t>(groups);
  Distinct distinct(n);
  std::vector<double> alone(n);
  for (size_t i = 0; i < n; ++i) {
    distinct[i] = sample_items[i];
    std::sort(distinct[i].begin(), distinct[i].end());
    distinct[i].erase(std::unique(distinct[i].begin(), distinct[i].end()), distinct[i].end());
    alone[i] = own_costs[i];
    for (const int64_t item : distinct[i]) alone[i] += item_cost(item);
  }
  std::vector<Group> parts(static_cast<size_t>(groups));
  for (int g = 0; g < groups; ++g) {
    for (const int64_t item : start_items[g]) {
      if (parts[g].holders[item]++ == 0) parts[g].load += item_cost(item);
    }
  }
  // The sorted greedy: the costliest alone first, each to the group with room whose load it raises least.
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return alone[a] > alone[b]; });
  for (const int64_t sample : order) {
    int best = -1;
    double best_load = 0;
    for (int g = 0; g < groups; ++g) {
      if (parts[g].samples.size() >= capacity) continue;
      const double load = load_after_swap(parts[g], -1, sample, distinct, own_costs, item_cost);
      if (best < 0 || load < best_load) {
        best = g;
        best_load = load;
      }
    }
    add(parts[best], sample, distinct, own_costs, item_cost);
  }
  refine_by_swaps(parts, distinct, own_costs, item_cost);
  std::vector<std::vector<int64_t>> out;
  for (auto& part : parts) {
    std::sort(part.samples.begin(), part.samples.end());
    out.push_back(std::move(part.samples));
  }
  return out;
}

}  // namespace hllm::data
