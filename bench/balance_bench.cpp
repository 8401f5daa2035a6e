// balance_bench: how unequal the ranks' work is per step when a global batch's windows are dealt as the
// loader deals them today (each data-parallel rank its own range, in its own shuffled order), against the
// same global batch partitioned by estimated cost (data/cost_partition.h, the sorted greedy), on a real
// dataset's windows and item texts, for any number of ranks: the extrapolation of issue "equal work on every
// rank" to dp 16 and 64. Nothing is trained; every figure comes from the same estimator:
//   a window's cost = the Item LLM's training FLOPs over its distinct items (prompt + text + [ITEM] tokens
//   each: 6 N T + 12 A T^2, models/training_work.h) + the User LLM's over its positions;
//   a rank's step cost = its windows' costs + its sampled negatives at the mean item's cost.
// Prints per dp the busiest rank's cost against the mean rank's, per step: mean, p90 and maximum over one
// epoch's steps, dealt and balanced.
//
//   build/bin/balance_bench --data runs/data/magazine [--dp 2,4,8,16,64] [--micro_batch 8] [--preset tiny]
#include <gflags/gflags.h>

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "data/cost_partition.h"
#include "data/dataset.h"
#include "data/item_token_reader.h"
#include "data/training_windows.h"
#include "data/user_reader.h"
#include "models/presets.h"
#include "models/training_work.h"

DEFINE_string(data, "", "A dataset directory written by hllm_prepare.");
DEFINE_string(dp, "2,4,8,16,64", "Data-parallel sizes, comma-separated.");
DEFINE_int32(micro_batch, 8, "Windows per rank per step.");
DEFINE_int32(max_item_list_len, 10, "Items of history (a window holds one more).");
DEFINE_int32(negatives, 64, "Negatives sampled per rank per step.");
DEFINE_string(preset, "tiny", "Preset of both towers (the FLOPs' weights).");
DEFINE_int64(seed, 42, "The loader's seed.");

namespace {

using namespace hllm;

double percentile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<size_t>(q * static_cast<double>(values.size())))];
}

struct Ratios {
  double mean = 0, p90 = 0, max = 0;
};

Ratios summarize(const std::vector<double>& ratios) {
  Ratios r;
  for (const double x : ratios) r.mean += x / static_cast<double>(ratios.size());
  r.p90 = percentile(ratios, 0.9);
  r.max = *std::max_element(ratios.begin(), ratios.end());
  return r;
}

double max_over_mean(const std::vector<double>& loads) {
  double sum = 0, most = 0;
  for (const double l : loads) {
    sum += l;
    most = std::max(most, l);
  }
  return most / (sum / static_cast<double>(loads.size()));
}

int run() {
  const data::Dataset dataset = data::Dataset::open(FLAGS_data);
  const data::TrainingWindows windows(data::read_user_lengths(dataset), FLAGS_max_item_list_len);
  const std::vector<data::UserSequence> users = data::read_user_sequences(dataset, 0, dataset.num_users());
  // Every item's text length, from items.h5's offsets.
  std::vector<int64_t> all_items(dataset.num_items());
  for (int64_t i = 0; i < dataset.num_items(); ++i) all_items[i] = i + 1;
  std::vector<int64_t> offsets, tokens;
  data::ItemTokenReader(dataset).read(all_items, &offsets, &tokens);
  const int64_t around_text = static_cast<int64_t>(dataset.meta().at("prompt_tokens").size()) + 1;
  const models::TowerSize item =
      models::llama_tower_size("item", models::tower_config(FLAGS_preset, dataset.vocab_size()), true);
  const models::TowerSize user =
      models::llama_tower_size("user", models::tower_config(FLAGS_preset, dataset.vocab_size()), false);
  std::vector<double> item_cost(dataset.num_items() + 1, 0.0);
  double mean_item_cost = 0;
  for (int64_t i = 1; i <= dataset.num_items(); ++i) {
    models::TowerWork work;
    models::add_sequence(around_text + offsets[i] - offsets[i - 1], &work);
    item_cost[i] = models::training_flops(item, work);
    mean_item_cost += item_cost[i] / static_cast<double>(dataset.num_items());
  }
  std::vector<double> window_cost(windows.size());
  for (int64_t w = 0; w < windows.size(); ++w) {
    const data::Window win = windows.window(w);
    std::vector<int32_t> items(users[win.user].items.begin() + win.begin, users[win.user].items.begin() + win.end);
    std::sort(items.begin(), items.end());
    items.erase(std::unique(items.begin(), items.end()), items.end());
    models::TowerWork positions;
    models::add_sequence(win.end - win.begin, &positions);
    window_cost[w] = models::training_flops(user, positions);
    for (const int32_t i : items) window_cost[w] += item_cost[i];
  }
  const double negatives_cost = FLAGS_negatives * mean_item_cost;
  std::printf("balance_bench: %s, %lld windows, micro batch %d per rank, %d negatives per rank, %s towers\n",
              FLAGS_data.c_str(), static_cast<long long>(windows.size()), FLAGS_micro_batch, FLAGS_negatives,
              FLAGS_preset.c_str());
  std::printf("%5s %7s   %-28s   %-28s\n", "dp", "steps", "dealt: busiest/mean mean p90 max", "balanced: mean p90 max");
  std::stringstream list(FLAGS_dp);
  for (std::string item_text; std::getline(list, item_text, ',');) {
    const int dp = std::stoi(item_text);
    std::vector<std::vector<int64_t>> order(dp);
    std::vector<int64_t> first(dp);
    int64_t largest = 0;
    for (int r = 0; r < dp; ++r) {
      const auto range = data::TrainingWindows::rank_range(windows.size(), r, dp);
      first[r] = range.first;
      order[r] = data::epoch_order(range.second - range.first, 4096, static_cast<uint64_t>(FLAGS_seed), 0, r);
      largest = std::max<int64_t>(largest, range.second - range.first);
    }
    const int64_t steps = (largest + FLAGS_micro_batch - 1) / FLAGS_micro_batch;
    std::vector<double> dealt, balanced;
    for (int64_t s = 0; s < steps; ++s) {
      std::vector<double> loads(dp, negatives_cost), pool;
      for (int r = 0; r < dp; ++r) {
        for (int64_t k = s * FLAGS_micro_batch; k < (s + 1) * FLAGS_micro_batch; ++k) {
          const double cost = k < static_cast<int64_t>(order[r].size()) ? window_cost[first[r] + order[r][k]] : 0.0;
          loads[r] += cost;
          pool.push_back(cost);  // a short rank's filler row costs nothing
        }
      }
      dealt.push_back(max_over_mean(loads));
      std::vector<double> parts(dp, negatives_cost);
      const auto groups = data::partition_by_cost(pool, dp);
      for (int g = 0; g < dp; ++g) {
        for (const int64_t i : groups[g]) parts[g] += pool[i];
      }
      balanced.push_back(max_over_mean(parts));
    }
    const Ratios a = summarize(dealt), b = summarize(balanced);
    std::printf("%5d %7lld   %8.3f %8.3f %8.3f      %8.3f %8.3f %8.3f\n", dp, static_cast<long long>(steps), a.mean,
                a.p90, a.max, b.mean, b.p90, b.max);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  gflags::SetUsageMessage("balance_bench --data DIR [--dp 2,4,8,16,64] [--micro_batch 8]");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  if (FLAGS_data.empty()) {
    std::fprintf(stderr, "balance_bench: --data DIR is required\n");
    return 2;
  }
  return run();
}
