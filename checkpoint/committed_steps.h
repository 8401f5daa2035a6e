// Which checkpoints under a root are committed: step_<N> directories holding a manifest (never *.tmp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hllm::checkpoint {

std::string step_directory_name(int64_t step);  // "step_00000120"
// Steps of committed checkpoints under `root`, ascending; empty when there is none (or no root).
std::vector<int64_t> committed_steps(const std::string& root);

}  // namespace hllm::checkpoint
