// Helpers of the engine tests: the test dataset (the loader_dataset ctest fixture), a small config, and an
// engine on N thread ranks.
#pragma once

#include <cstdlib>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "common/config/config_loader.h"
#include "parallel/comm/thread_communicator.h"
#include "runtime/engine.h"

namespace hllm::runtime {

inline std::string dataset_path() {
  const char* path = std::getenv("HLLM_TEST_DATASET");
  return path ? path : "";
}

inline config::Config config_for(const std::string& model, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> overrides = {"model.type=" + model, "model.item=debug", "model.user=debug",
                                        "model.hidden_size=16", "train_micro_batch_size_per_gpu=4",
                                        "data.num_negatives=16", "data.max_item_list_len=6", "train.eval_batch_size=7"};
  overrides.insert(overrides.end(), extra.begin(), extra.end());
  return config::parse_config_text("{}", "test", overrides);
}

// Runs fn(engine) on `world` thread ranks placed on `device` and returns rank 0's result.
template <typename Result>
inline Result on_ranks(int world, const config::Config& config, const std::function<Result(Engine&)>& fn,
                const std::string& device = "cpu") {
  const auto dataset = data::Dataset::open(dataset_path());
  Result result{};
  std::mutex mutex;
  parallel::run_thread_ranks(world, [&](parallel::Communicator& comm) {
    parallel::Placement placement;
    placement.hostname = "test";
    placement.device = device;
    const parallel::Topology topology(comm, 1, placement);
    const auto batch = config::resolve_batch_sizes(config, topology.dp());
    Engine engine(config, batch, topology, dataset, "");
    Result mine = fn(engine);
    if (comm.rank() == 0) {
      std::lock_guard<std::mutex> lock(mutex);
      result = mine;
    }
  });
  return result;
}

}  // namespace hllm::runtime
