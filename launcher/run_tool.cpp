#include "launcher/run_tool.h"

#include <ATen/Parallel.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "common/error.h"
#include "common/json_input.h"
#include "common/path_names.h"
#include "common/exit_codes.h"
#include "common/logging.h"
#include "launcher/device_groups.h"
#include "launcher/mpi_runtime.h"
#include "launcher/placement.h"
#include "parallel/comm/mpi_communicator.h"
#include "runtime/host_caching_allocator.h"

#include <glog/logging.h>  // last: pip LibTorch defines LOG/CHECK of its own (docs/GPU.md)

namespace hllm::launcher {

std::string RunToolArgs::flag(const std::string& name, const std::string& fallback) const {
  const auto found = flags.find(name);
  return found == flags.end() ? fallback : found->second;
}

RunToolArgs parse_run_tool_args(int argc, char** argv, const std::string& tool,
                                const std::vector<std::string>& value_flags) {
  RunToolArgs args;
  const std::string help = " (" + tool + " --help)";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const size_t equals = arg.find('=');
    const std::string name = arg.substr(0, equals);
    const bool inline_value = equals != std::string::npos;
    auto value = [&]() -> std::string {
      if (inline_value) return arg.substr(equals + 1);
      if (i + 1 >= argc) throw InputError("flag '" + name + "' needs a value" + help);
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      args.help = true;
    } else if (name == "--set") {
      args.overrides.push_back(value());
    } else if (std::find(value_flags.begin(), value_flags.end(), name) != value_flags.end()) {
      args.flags[name] = value();
    } else if (!arg.empty() && arg[0] == '-') {
      throw InputError("unknown flag '" + arg + "'" + help);
    } else if (args.run_dir.empty()) {
      args.run_dir = arg;
    } else {
      throw InputError("unexpected argument '" + arg + "': one RUN_DIR only" + help);
    }
  }
  if (!args.help && args.run_dir.empty()) throw InputError("RUN_DIR is required" + help);
  return args;
}

void check_output_path(const std::string& path, const std::string& flag) {
  check_path(path, flag);
  std::filesystem::path directory = std::filesystem::path(path).parent_path();
  if (directory.empty()) directory = ".";
  std::error_code error;
  if (!std::filesystem::is_directory(directory, error) || ::access(directory.c_str(), W_OK) != 0) {
    throw InputError(flag + " '" + text_excerpt(path) + "': the directory '" + text_excerpt(directory.string()) +
                     "' does not exist or is not writable");
  }
}

TrainedRun load_trained_run(const RunToolArgs& args, parallel::Communicator& world) {
  LaunchOptions options;
  options.config_path = args.run_dir + "/config.json";
  options.overrides = args.overrides;
  TrainedRun run;
  run.plan = make_launch_plan(options, world, detect_placement(world));
  if (!run.plan.dataset) throw InputError("data.path is not set in " + options.config_path + " (--set data.path=DIR)");
  at::set_num_threads(run.plan.intra_op_threads);
  parallel::set_mpi_timeout_seconds(run.plan.config.comm.timeout_s);
  use_device_communicators(*run.plan.topology, run.plan.config.comm.timeout_s);
  // Every rank reads from the same file only what it holds (under ZeRO-3, its shards).
  run.model = std::make_unique<runtime::ModelPlacement>(run.plan.config, run.plan.batch, *run.plan.topology,
                                                        *run.plan.dataset, runtime::Purpose::kEvaluation,
                                                        args.run_dir + "/model");
  return run;
}

int run_tool_main(int argc, char** argv, const std::string& tool, const std::string& usage,
                  const std::vector<std::string>& value_flags,
                  const std::function<int(const RunToolArgs&, parallel::Communicator&)>& run) {
  // Before any tensor: freed memory is reused, not faulted in again, and bounded (runtime/host_caching_allocator.h).
  runtime::install_host_caching_allocator();
  RunToolArgs args;
  try {
    args = parse_run_tool_args(argc, argv, tool, value_flags);
  } catch (const InputError& e) {
    std::cerr << tool << ": " << e.what() << std::endl;
    return kExitBadInput;
  }
  if (args.help) {
    std::cout << usage;
    return kExitOk;
  }
  int exit_code = kExitOk;
  try {
    MpiRuntime mpi(&argc, &argv);
    auto world = parallel::make_mpi_world_communicator();
    init_logging(argv[0], {world->rank(), world->size(), false});
    try {
      exit_code = run(args, *world);
    } catch (const InputError& e) {
      if (world->rank() == 0) std::cerr << tool << ": " << e.what() << std::endl;
      exit_code = kExitBadInput;
    } catch (const std::exception& e) {
      LOG(ERROR) << e.what();
      LOG(ERROR) << "aborting the job (exit code " << kExitFailure << ")";
      MpiRuntime::abort_job(kExitFailure);
    }
    world.reset();
  } catch (const std::exception& e) {
    std::cerr << tool << ": " << e.what() << std::endl;
    MpiRuntime::abort_job(kExitFailure);
  }
  return exit_code;
}

}  // namespace hllm::launcher
