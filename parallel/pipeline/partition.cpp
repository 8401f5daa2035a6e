#include "parallel/pipeline/partition.h"

#include <algorithm>
#include <limits>
#include <numeric>

#include "common/error.h"

namespace hllm::parallel {

size_t StageCut::end(int stage) const {
  return stage + 1 < stages() ? first[static_cast<size_t>(stage) + 1] : blocks;
}

int StageCut::stage_of(size_t block) const {
  int s = 0;
  while (s + 1 < stages() && first[static_cast<size_t>(s) + 1] <= block) ++s;
  return s;
}

double StageCut::max_cost() const { return cost.empty() ? 0 : *std::max_element(cost.begin(), cost.end()); }

double StageCut::imbalance() const {
  const double total = std::accumulate(cost.begin(), cost.end(), 0.0);
  return total > 0 ? max_cost() / (total / static_cast<double>(cost.size())) : 1.0;
}

StageCut manual_cut(const std::vector<double>& costs, const std::vector<size_t>& first) {
  if (first.empty() || first[0] != 0) throw InputError("a pipeline cut's first stage must start at block 0");
  for (size_t s = 0; s < first.size(); ++s) {
    if (first[s] >= costs.size() || (s > 0 && first[s] <= first[s - 1])) {
      throw InputError(detail::concat("parallel.pipeline_cut: stage ", s, " starts at block ", first[s],
                                      "; stage starts must increase and stay below ", costs.size(), " blocks"));
    }
  }
  StageCut cut;
  cut.first = first;
  cut.blocks = costs.size();
  for (size_t s = 0; s < first.size(); ++s) {
    const size_t end = s + 1 < first.size() ? first[s + 1] : costs.size();
    cut.cost.push_back(std::accumulate(costs.begin() + static_cast<long>(first[s]), costs.begin() + static_cast<long>(end), 0.0));
  }
  return cut;
}

StageCut balanced_cut(const std::vector<double>& costs, int stages) {
  const size_t n = costs.size();
  if (stages < 1 || static_cast<size_t>(stages) > n) {
    throw InputError(detail::concat("cannot cut ", n, " blocks into ", stages, " pipeline stages (1 to ", n, ")"));
  }
  std::vector<double> prefix(n + 1, 0.0);
  for (size_t i = 0; i < n; ++i) prefix[i + 1] = prefix[i] + costs[i];
  // best[k][i]: the smallest possible largest stage cost when the first i blocks form k stages.
  const double inf = std::numeric_limits<double>::infinity();
  const auto K = static_cast<size_t>(stages);
  std::vector<std::vector<double>> best(K + 1, std::vector<double>(n + 1, inf));
  std::vector<std::vector<size_t>> start(K + 1, std::vector<size_t>(n + 1, 0));
  best[0][0] = 0;
  for (size_t k = 1; k <= K; ++k) {
    for (size_t i = k; i <= n; ++i) {
      for (size_t j = k - 1; j < i; ++j) {  // the k-th stage is [j, i)
        const double candidate = std::max(best[k - 1][j], prefix[i] - prefix[j]);
        if (candidate < best[k][i]) {
          best[k][i] = candidate;
          start[k][i] = j;
        }
      }
    }
  }
  std::vector<size_t> first(K);
  for (size_t k = K, i = n; k > 0; --k) {
    first[k - 1] = start[k][i];
    i = start[k][i];
  }
  return manual_cut(costs, first);
}

StageCut choose_stage_cut(const std::vector<double>& flops, const std::vector<int64_t>& parameters, int stages,
                          const std::vector<int64_t>& manual) {
  StageCut cut;
  if (manual.empty()) {
    std::vector<size_t> group_first;
    std::vector<double> group_flops;
    std::vector<int64_t> group_parameters;
    for (size_t b = 0; b < flops.size(); ++b) {
      if (group_first.empty() || parameters[b - 1] > 0) {
        group_first.push_back(b);
        group_flops.push_back(0);
        group_parameters.push_back(0);
      }
      group_flops.back() += flops[b];
      group_parameters.back() += parameters[b];
    }
    if (group_first.size() > 1 && group_parameters.back() == 0) {  // a parameter-free tail joins the group before
      group_flops[group_flops.size() - 2] += group_flops.back();
      group_first.pop_back();
      group_flops.pop_back();
    }
    if (stages > static_cast<int>(group_first.size())) {
      throw InputError(detail::concat("parallel.pp = ", stages, ": the model has only ", group_first.size(),
                                      " blocks with parameters to share between stages"));
    }
    std::vector<size_t> first;
    for (const size_t g : balanced_cut(group_flops, stages).first) first.push_back(group_first[g]);
    cut = manual_cut(flops, first);
  } else {
    if (static_cast<int>(manual.size()) != stages - 1) {
      throw InputError(detail::concat("parallel.pipeline_cut lists ", manual.size(), " blocks; with parallel.pp = ", stages,
                                      " it needs ", stages - 1, " (the first block of stages 1 .. ", stages - 1, ")"));
    }
    std::vector<size_t> first{0};
    for (const int64_t b : manual) {
      if (b <= 0) throw InputError(detail::concat("parallel.pipeline_cut: block ", b, " must be > 0 (stage 0 starts at 0)"));
      first.push_back(static_cast<size_t>(b));
    }
    cut = manual_cut(flops, first);
  }
  for (int s = 0; s < cut.stages(); ++s) {
    int64_t held = 0;
    for (size_t b = cut.first[s]; b < cut.end(s); ++b) held += parameters[b];
    if (held == 0) {
      throw InputError(detail::concat("pipeline stage ", s, " (blocks ", cut.first[s], " .. ", cut.end(s) - 1,
                                      ") holds no parameters; choose another parallel.pipeline_cut"));
    }
  }
  return cut;
}

}  // namespace hllm::parallel
