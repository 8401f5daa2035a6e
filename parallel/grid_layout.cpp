#include "parallel/grid_layout.h"

#include <string>

#include "common/error.h"

namespace hllm::parallel {

GridLayout GridLayout::make(int world_size, int pp) {
  HLLM_CHECK(world_size >= 1, "world size must be at least 1, got ", world_size);
  if (pp < 1 || world_size % pp != 0) {
    std::string valid;
    for (int candidate = 1; candidate <= world_size; ++candidate) {
      if (world_size % candidate == 0) valid += (valid.empty() ? "" : ", ") + std::to_string(candidate);
    }
    throw InputError(detail::concat("parallel.pp = ", pp, " does not divide the world: world_size (", world_size,
                                    ") must equal pp (", pp, ") x dp, and ", world_size, " / ", pp,
                                    " is not a whole number. pp values that fit ", world_size,
                                    " ranks: ", valid, "."));
  }
  return GridLayout{world_size, pp, world_size / pp};
}

std::vector<int> GridLayout::dp_group_ranks(int stage) const {
  std::vector<int> ranks;
  for (int i = 0; i < dp; ++i) ranks.push_back(rank_of(stage, i));
  return ranks;
}

std::vector<int> GridLayout::pp_group_ranks(int index) const {
  std::vector<int> ranks;
  for (int s = 0; s < pp; ++s) ranks.push_back(rank_of(s, index));
  return ranks;
}

}  // namespace hllm::parallel
