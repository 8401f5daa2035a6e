// Helpers of the trainer tests: the test dataset (the loader_dataset ctest fixture), a small config, and a
// trainer on N thread ranks.
#pragma once

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "common/config/config_loader.h"
#include "runtime/model_save.h"
#include "parallel/comm/thread_communicator.h"
#include "runtime/trainer.h"

namespace hllm::runtime {

inline std::string dataset_path() {
  const char* path = std::getenv("HLLM_TEST_DATASET");
  return path ? path : "";
}

// A catalogue of several models::kCatalogueChunkItems chunks (the catalogue_dataset ctest fixture).
inline std::string catalogue_dataset_path() {
  const char* path = std::getenv("HLLM_TEST_CATALOGUE_DATASET");
  return path ? path : "";
}

inline config::Config config_for(const std::string& model, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> overrides = {"model.type=" + model, "model.item=debug", "model.user=debug",
                                        "model.hidden_size=16", "train_micro_batch_size_per_gpu=4",
                                        "data.num_negatives=16", "data.max_item_list_len=6", "train.eval_batch_size=7"};
  overrides.insert(overrides.end(), extra.begin(), extra.end());
  return config::parse_config_text("{}", "test", overrides);
}

// Runs fn(trainer) on `world` thread ranks placed on `device` (a pp x dp grid by parallel.pp) and returns
// every rank's result, by rank.
template <typename Result>
inline std::vector<Result> on_each_rank(int world, const config::Config& config, const std::function<Result(Trainer&)>& fn,
                                        const std::string& device = "cpu", const std::string& path = dataset_path()) {
  const auto dataset = data::Dataset::open(path);
  std::vector<Result> results(static_cast<size_t>(world));
  std::mutex mutex;
  parallel::run_thread_ranks(world, [&](parallel::Communicator& comm) {
    parallel::Placement placement;
    placement.hostname = "test";
    placement.device = device;
    const parallel::Topology topology(comm, config.parallel.pp, placement);
    const auto batch = config::resolve_batch_sizes(config, topology.dp());
    Trainer engine(config, batch, topology, dataset, "");
    Result mine = fn(engine);
    std::lock_guard<std::mutex> lock(mutex);
    results[static_cast<size_t>(comm.rank())] = std::move(mine);
  });
  return results;
}

// The same, rank 0's result.
template <typename Result>
inline Result on_ranks(int world, const config::Config& config, const std::function<Result(Trainer&)>& fn,
                       const std::string& device = "cpu") {
  return on_each_rank<Result>(world, config, fn, device).front();
}

// Copies of the model's parameters (float32, on the CPU), in the model's order; a pipeline stage's rank
// holds only its own (the others are empty). Collective (ZeRO-3 gathers them).
inline std::vector<at::Tensor> parameter_copies(Trainer& trainer) { return parameter_copies(trainer.model()); }

// Every parameter from the rank that holds it (under pp, its stage's ranks), given each rank's copies.
inline std::vector<at::Tensor> whole_model(const std::vector<std::vector<at::Tensor>>& per_rank) {
  std::vector<at::Tensor> out = per_rank.front();
  for (size_t i = 0; i < out.size(); ++i) {
    for (const auto& rank : per_rank) {
      if (out[i].numel() == 0 && rank[i].numel() > 0) out[i] = rank[i];
    }
  }
  return out;
}

// Two trainings that should agree: losses within `loss_tolerance` relative, parameters within
// `parameter_tolerance` absolute (they are O(0.1)); the worst parameter is named.
inline void expect_same_training(const std::vector<double>& expected_losses, const std::vector<at::Tensor>& expected,
                                 const std::vector<double>& actual_losses, const std::vector<at::Tensor>& actual,
                                 double loss_tolerance, double parameter_tolerance, const std::string& what) {
  ASSERT_EQ(expected_losses.size(), actual_losses.size()) << what;
  for (size_t i = 0; i < expected_losses.size(); ++i) {
    EXPECT_NEAR(actual_losses[i], expected_losses[i], loss_tolerance * std::abs(expected_losses[i])) << what << ", step " << i;
  }
  ASSERT_EQ(expected.size(), actual.size()) << what;
  double worst = 0;
  size_t where = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_EQ(expected[i].sizes(), actual[i].sizes()) << what << ", parameter " << i;
    const double difference = (expected[i] - actual[i]).abs().max().item<double>();
    if (difference > worst) where = i;
    worst = std::max(worst, difference);
  }
  EXPECT_LE(worst, parameter_tolerance) << what << ": largest parameter difference, in parameter " << where;
}

}  // namespace hllm::runtime
