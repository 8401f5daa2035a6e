// The command line of hllm_launch (gflags), with `--set key.path=value` repeatable and unknown flags
// reported with the nearest known one.
#pragma once

#include <string>
#include <vector>

namespace hllm::launcher {

struct LaunchOptions {
  std::string config_path;
  std::vector<std::string> overrides;  // "--set a.b=c", in command-line order
  bool dry_run = false;
  bool log_all_ranks = false;
  std::string progress = "auto";  // auto, bar, lines (see progress_bar_wanted)
  std::string resume = "none";    // none, auto, or a checkpoint directory
  bool help = false;
};

// Parses and removes the flags from argv. Throws InputError for an unknown flag, a malformed --set or a
// missing --config (unless --help).
LaunchOptions parse_launch_options(int* argc, char*** argv);

// Whether rank 0 draws a live progress bar, for --progress: "bar" yes, "lines" no, "auto" when stdout is a
// terminal and the process was not started by Open MPI's mpirun (`under_mpirun`), which gives every rank
// a pseudo-terminal even when the job's output goes to a file.
bool progress_bar_wanted(const std::string& progress, bool stdout_is_terminal, bool under_mpirun);

// The usage text with every hllm_launch flag (not glog's or gflags' own).
std::string launch_usage();

}  // namespace hllm::launcher
