// glog set-up shared by every binary: the rank in every line, stderr only, and by default only rank 0
// speaks at INFO (other ranks log warnings and errors). The logger is the one piece of global state.
#pragma once

namespace hllm {

struct LoggingOptions {
  int rank = 0;
  int world_size = 1;
  bool all_ranks_info = false;  // true: every rank logs at INFO
};

// Call once, before any LOG(); safe to call again to update the rank after MPI start-up.
void init_logging(const char* argv0, const LoggingOptions& options);

}  // namespace hllm
