// hllm_eval: evaluates the model a training run saved, on its own (mpirun -np N hllm_eval RUN_DIR).
// Reads RUN_DIR/config.json (the resolved config hllm_launch wrote) and RUN_DIR/model/model.safetensors
// (the parameters train() tested), opens the dataset of the config, and prints valid and test Recall@K /
// NDCG@K with the popularity baseline — the paper's protocol, as at the end of training, on any number of
// ranks. `--set key.path=value` overrides config keys (e.g. data.path when the dataset moved). Writes
// nothing. Exit codes as hllm_launch: 0, 1 (a rank failed), 2 (bad arguments, config, dataset or model).
#include <ATen/Parallel.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/exit_codes.h"
#include "common/logging.h"
#include "launcher/device_groups.h"
#include "launcher/launch_plan.h"
#include "launcher/mpi_runtime.h"
#include "launcher/placement.h"
#include "parallel/comm/mpi_communicator.h"
#include "runtime/evaluator.h"
#include "runtime/parallel_model.h"
#include "runtime/host_caching_allocator.h"

#include <glog/logging.h>  // last: pip LibTorch defines LOG/CHECK of its own (docs/GPU.md)

namespace hllm::launcher {
namespace {

constexpr const char* kUsage =
    "Usage: mpirun -np N hllm_eval RUN_DIR [--set key.path=value ...]\n\n"
    "Evaluates RUN_DIR/model (written by hllm_launch at the end of training) with RUN_DIR/config.json:\n"
    "valid and test Recall@K / NDCG@K (K = 5, 10, 50, 200) over every item, history masked, and the\n"
    "popularity baseline. --set overrides config keys, e.g. --set data.path=DIR when the dataset moved.\n\n"
    "Exit codes: 0 done, 1 a rank failed, 2 bad arguments, config, dataset or model.\n";

struct EvalOptions {
  std::string run_dir;
  std::vector<std::string> overrides;
  bool help = false;
};

EvalOptions parse(int argc, char** argv) {
  EvalOptions options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      options.help = true;
    } else if (arg == "--set" && i + 1 < argc) {
      options.overrides.push_back(argv[++i]);
    } else if (arg.rfind("--set=", 0) == 0) {
      options.overrides.push_back(arg.substr(6));
    } else if (!arg.empty() && arg[0] == '-') {
      throw InputError("unknown flag '" + arg + "' (hllm_eval --help)");
    } else if (options.run_dir.empty()) {
      options.run_dir = arg;
    } else {
      throw InputError("unexpected argument '" + arg + "': one RUN_DIR only (hllm_eval --help)");
    }
  }
  if (!options.help && options.run_dir.empty()) throw InputError("RUN_DIR is required (hllm_eval --help)");
  return options;
}

void print_table(const std::map<std::string, std::map<std::string, double>>& splits) {
  std::printf("%-28s %8s %8s %8s %8s %8s %8s\n", "split", "R@10", "N@10", "R@50", "N@50", "R@200", "N@200");
  for (const auto& name : {"valid", "test", "test (popularity baseline)"}) {
    const auto& m = splits.at(name);
    std::printf("%-28s %8.4f %8.4f %8.4f %8.4f %8.4f %8.4f\n", name, m.at("recall@10"), m.at("ndcg@10"),
                m.at("recall@50"), m.at("ndcg@50"), m.at("recall@200"), m.at("ndcg@200"));
  }
}

int run(const EvalOptions& eval, parallel::Communicator& world) {
  LaunchOptions options;
  options.config_path = eval.run_dir + "/config.json";
  options.overrides = eval.overrides;
  const parallel::Placement placement = detect_placement(world);
  LaunchPlan plan;
  std::unique_ptr<runtime::ParallelModel> model;
  try {
    plan = make_launch_plan(options, world, placement);
    if (!plan.dataset) throw InputError("data.path is not set in " + options.config_path + " (--set data.path=DIR)");
    at::set_num_threads(plan.intra_op_threads);
    parallel::set_mpi_timeout_seconds(plan.config.comm.timeout_s);
    use_device_communicators(*plan.topology, plan.config.comm.timeout_s);
    // Every rank reads from the same file only what it holds (under ZeRO-3, its shards).
    model = std::make_unique<runtime::ParallelModel>(plan.config, plan.batch, *plan.topology, *plan.dataset,
                                                     runtime::ModelUse::kEvaluate,
                                                     eval.run_dir + "/model");
  } catch (const InputError& e) {
    // The config, dataset and model file are the same for every rank, so every rank is here.
    if (world.rank() == 0) std::cerr << "hllm_eval: " << e.what() << std::endl;
    return kExitBadInput;
  }
  std::map<std::string, std::map<std::string, double>> splits;
  runtime::Evaluator evaluator(plan.config, *plan.topology, *plan.dataset, *model);
  const at::Tensor catalog = evaluator.catalog_embeddings();  // embedded once for both splits
  splits["valid"] = evaluator.evaluate(catalog, data::EvalSplit::kValid);
  splits["test"] = evaluator.evaluate(catalog, data::EvalSplit::kTest);
  splits["test (popularity baseline)"] = evaluator.evaluate_popularity(data::EvalSplit::kTest);
  if (world.rank() == 0) {
    std::printf("%s (%s, %d rank(s))\n", eval.run_dir.c_str(), plan.config.model.type.c_str(), world.size());
    print_table(splits);
  }
  return kExitOk;
}

}  // namespace
}  // namespace hllm::launcher

int main(int argc, char** argv) {
  // Before any tensor: freed memory is reused, not faulted in again, and bounded (runtime/host_caching_allocator.h).
  hllm::runtime::install_host_caching_allocator();
  using namespace hllm::launcher;
  EvalOptions options;
  try {
    options = parse(argc, argv);
  } catch (const hllm::InputError& e) {
    std::cerr << "hllm_eval: " << e.what() << std::endl;
    return hllm::kExitBadInput;
  }
  if (options.help) {
    std::cout << kUsage;
    return hllm::kExitOk;
  }
  int exit_code = hllm::kExitOk;
  try {
    MpiRuntime mpi(&argc, &argv);
    auto world = hllm::parallel::make_mpi_world_communicator();
    hllm::init_logging(argv[0], {world->rank(), world->size(), false});
    try {
      exit_code = run(options, *world);
    } catch (const std::exception& e) {
      LOG(ERROR) << e.what();
      LOG(ERROR) << "aborting the job (exit code " << hllm::kExitFailure << ")";
      MpiRuntime::abort_job(hllm::kExitFailure);
    }
    world.reset();
  } catch (const std::exception& e) {
    std::cerr << "hllm_eval: " << e.what() << std::endl;
    MpiRuntime::abort_job(hllm::kExitFailure);
  }
  return exit_code;
}
