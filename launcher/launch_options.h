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
  bool help = false;
};

// Parses and removes the flags from argv. Throws InputError for an unknown flag, a malformed --set or a
// missing --config (unless --help).
LaunchOptions parse_launch_options(int* argc, char*** argv);

// The usage text with every hllm_launch flag (not glog's or gflags' own).
std::string launch_usage();

}  // namespace hllm::launcher
