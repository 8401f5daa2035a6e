// GridLayout: the pure arithmetic of the process grid. world = pp x dp, stage-major:
//   rank = stage_id * dp + dp_index
// so the ranks of one data-parallel group are contiguous (they exchange the most bytes and usually share
// a node) and a pipeline group strides by dp.
#pragma once

#include <vector>

namespace hllm::parallel {

struct GridLayout {
  int world_size = 1;
  int pp = 1;
  int dp = 1;

  // Throws InputError printing every factor when pp does not divide world_size.
  static GridLayout make(int world_size, int pp);

  int stage_id(int rank) const { return rank / dp; }
  int dp_index(int rank) const { return rank % dp; }
  int rank_of(int stage_id, int dp_index) const { return stage_id * dp + dp_index; }

  std::vector<int> dp_group_ranks(int stage_id) const;  // ranks of one stage, by dp_index
  std::vector<int> pp_group_ranks(int dp_index) const;  // ranks of one pipeline, by stage_id
};

}  // namespace hllm::parallel
