#include "parallel/grid_layout.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace hllm::parallel {
namespace {

TEST(GridLayout, StageMajorRankOrder) {
  const auto layout = GridLayout::make(8, 2);
  EXPECT_EQ(layout.dp, 4);
  EXPECT_EQ(layout.stage_id(5), 1);
  EXPECT_EQ(layout.dp_index(5), 1);
  EXPECT_EQ(layout.rank_of(1, 1), 5);
  EXPECT_EQ(layout.dp_group_ranks(1), (std::vector<int>{4, 5, 6, 7}));
  EXPECT_EQ(layout.pp_group_ranks(2), (std::vector<int>{2, 6}));
}

TEST(GridLayout, EveryRankIsInExactlyOneGroupOfEachKind) {
  for (int world : {1, 2, 4, 6, 12}) {
    for (int pp = 1; pp <= world; ++pp) {
      if (world % pp) continue;
      const auto layout = GridLayout::make(world, pp);
      std::vector<int> dp_seen(world, 0), pp_seen(world, 0);
      for (int s = 0; s < pp; ++s)
        for (int r : layout.dp_group_ranks(s)) ++dp_seen[r];
      for (int i = 0; i < layout.dp; ++i)
        for (int r : layout.pp_group_ranks(i)) ++pp_seen[r];
      EXPECT_EQ(dp_seen, std::vector<int>(world, 1));
      EXPECT_EQ(pp_seen, std::vector<int>(world, 1));
    }
  }
}

TEST(GridLayout, NonDividingPpPrintsEveryFactor) {
  try {
    GridLayout::make(4, 3);
    FAIL() << "expected an error";
  } catch (const InputError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("parallel.pp = 3"), std::string::npos) << message;
    EXPECT_NE(message.find("world_size (4)"), std::string::npos) << message;
    EXPECT_NE(message.find("pp (3) x dp"), std::string::npos) << message;
    EXPECT_NE(message.find("1, 2, 4"), std::string::npos) << message;
  }
  EXPECT_THROW(GridLayout::make(4, 0), InputError);
}

}  // namespace
}  // namespace hllm::parallel
