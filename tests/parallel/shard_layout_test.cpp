// ShardLayout: every element of every parameter in exactly one rank's shard, equal shards, alignment.
#include "parallel/zero/shard_layout.h"

#include <gtest/gtest.h>

#include <vector>

#include "common/error.h"

namespace hllm::parallel {
namespace {

// Each element of each parameter is covered once, by segments that agree with the offsets.
void expect_exact_cover(const ShardLayout& layout) {
  std::vector<std::vector<int>> covered(layout.parameters());
  for (size_t p = 0; p < layout.parameters(); ++p) covered[p].assign(layout.numel(p), 0);
  for (int r = 0; r < layout.dp(); ++r) {
    const auto [begin, end] = layout.shard_range(r);
    EXPECT_EQ(end - begin, layout.shard_numel());
    for (const auto& s : layout.segments_of(r)) {
      EXPECT_GE(s.buffer_offset, begin);
      EXPECT_LE(s.buffer_offset + s.length, end);
      EXPECT_EQ(s.buffer_offset, layout.offset(s.parameter) + s.parameter_offset);
      for (int64_t k = 0; k < s.length; ++k) ++covered[s.parameter][s.parameter_offset + k];
    }
  }
  for (size_t p = 0; p < layout.parameters(); ++p) {
    for (size_t k = 0; k < covered[p].size(); ++k) ASSERT_EQ(covered[p][k], 1) << "parameter " << p << " element " << k;
  }
}

TEST(ShardLayout, UnevenSizesSplitIntoEqualShardsThatCoverEveryElementOnce) {
  for (const int dp : {1, 2, 3, 4, 7}) {
    for (const int64_t alignment : {1, 2, 16}) {
      const ShardLayout layout({5, 3, 0, 7, 1, 130}, dp, alignment);
      EXPECT_EQ(layout.buffer_numel() % (dp * alignment), 0);
      for (size_t p = 0; p < layout.parameters(); ++p) EXPECT_EQ(layout.offset(p) % alignment, 0) << p;
      expect_exact_cover(layout);
    }
  }
}

TEST(ShardLayout, HandExample) {
  // Parameters of 5 and 3 elements, alignment 2, dp 2: offsets 0 and 6, 9 used -> buffer 12, shards of 6.
  const ShardLayout layout({5, 3}, 2, 2);
  EXPECT_EQ(layout.offset(1), 6);
  EXPECT_EQ(layout.buffer_numel(), 12);
  EXPECT_EQ(layout.padding(), 4);
  const auto first = layout.segments_of(0), second = layout.segments_of(1);
  ASSERT_EQ(first.size(), 1u);  // [0, 6): parameter 0 whole (5), then the gap
  EXPECT_EQ(first[0].length, 5);
  ASSERT_EQ(second.size(), 1u);  // [6, 12): parameter 1 whole, then the tail
  EXPECT_EQ(second[0].parameter, 1u);
  EXPECT_EQ(second[0].length, 3);
}

TEST(ShardLayout, RejectsBadArguments) {
  EXPECT_THROW(ShardLayout({1}, 0), Error);
  EXPECT_THROW(ShardLayout({1}, 2, 0), Error);
  EXPECT_THROW(ShardLayout({-1}, 2), Error);
  EXPECT_THROW(ShardLayout({4}, 2).shard_range(2), Error);
}

}  // namespace
}  // namespace hllm::parallel
