// LaunchPlan: everything hllm_launch decides before running: the resolved config, the topology, the
// batch sizes and the thread count. Built collectively so that every rank sees the same config text.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "common/config/batch_sizes.h"
#include "common/config/config.h"
#include "data/dataset.h"
#include "launcher/launch_options.h"
#include "parallel/pipeline/partition.h"
#include "parallel/topology.h"

namespace hllm::launcher {

struct LaunchPlan {
  config::Config config;
  std::unique_ptr<parallel::Topology> topology;
  config::BatchSizes batch;
  int intra_op_threads = 1;
  std::optional<data::Dataset> dataset;  // when data.path is set
  int64_t training_windows = 0;
  int64_t batches_per_epoch = 0;         // per data-parallel rank (the same on all)
  // HLLM at pp > 1: the pipeline's cut of the chain as the run will make it (from the towers' shapes:
  // presets or Hugging Face config.json, the dataset's vocabulary and prompt when data.path is set).
  parallel::StageCut pipeline_cut;
  std::vector<std::string> block_names;
};

// Collective over `world`. Rank 0 reads the config file and broadcasts its text; every rank applies the
// same overrides to the same text, so a bad config raises the same InputError on every rank (and no rank
// is left waiting in a collective). With data.path set, every rank opens the dataset and all agree on
// whether that worked before going on. HLLM's pipeline cut is chosen here too, so that a cut the model
// cannot take (past its blocks, a stage without parameters) is refused by --dry_run as by the run.
LaunchPlan make_launch_plan(const LaunchOptions& options, parallel::Communicator& world,
                            const parallel::Placement& placement);

// What rank 0 prints at start: topology table, batch sizes, threads, data plan; and the resolved config
// when `with_config` (dry runs; a training run writes it to its run directory).
std::string describe_plan(const LaunchPlan& plan, bool with_config);

}  // namespace hllm::launcher
