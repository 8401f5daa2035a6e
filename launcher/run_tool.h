// What the programs that use a finished run share (hllm_eval, hllm_embed, hllm_recommend): a command line of
// RUN_DIR, `--set key.path=value` overrides and flags of their own; the run's saved model held as its
// training held it (under ZeRO-3 each rank reads only its shards); and main's MPI start, error reporting and
// exit codes (0 done, 1 a rank failed, 2 bad arguments, config, dataset, model or input file).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "launcher/launch_plan.h"
#include "parallel/comm/communicator.h"
#include "runtime/model_placement.h"

namespace hllm::launcher {

struct RunToolArgs {
  std::string run_dir;
  std::vector<std::string> overrides;
  std::map<std::string, std::string> flags;  // "--k" -> "10", as given
  bool help = false;

  // The flag's value, or `fallback` when it was not given.
  std::string flag(const std::string& name, const std::string& fallback = "") const;
  bool has(const std::string& name) const { return flags.count(name) > 0; }
};

// `value_flags` are the tool's own flags, each taking a value (`--k 10` or `--k=10`). Throws InputError
// naming the tool on an unknown flag, a flag without its value, or a missing or second RUN_DIR.
RunToolArgs parse_run_tool_args(int argc, char** argv, const std::string& tool,
                                const std::vector<std::string>& value_flags);

// Throws InputError naming `flag` when `path`'s directory is missing or not writable, before any work (the
// file system is shared: every rank sees the same answer).
void check_output_path(const std::string& path, const std::string& flag);

struct TrainedRun {
  LaunchPlan plan;
  std::unique_ptr<runtime::ModelPlacement> model;  // placed for evaluation: no gradients or optimizer
};

// RUN_DIR/config.json (with the overrides) and RUN_DIR/model, on every rank of `world`, with the run's
// thread count, timeouts and device communicators. Throws InputError (the same on every rank: the files are
// the same) when the config, dataset or model does not fit. Collective.
TrainedRun load_trained_run(const RunToolArgs& args, parallel::Communicator& world);

// main() of such a tool: parses, prints `usage` for --help, starts MPI and logging, runs `run` on every rank.
// An InputError from `run` must be raised by every rank alike (rank 0 prints it, the tool exits 2); any
// other error on any rank aborts the job with exit code 1.
int run_tool_main(int argc, char** argv, const std::string& tool, const std::string& usage,
                  const std::vector<std::string>& value_flags,
                  const std::function<int(const RunToolArgs&, parallel::Communicator&)>& run);

}  // namespace hllm::launcher
