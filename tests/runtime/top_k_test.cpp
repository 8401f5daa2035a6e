#include "runtime/top_k.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <limits>

namespace hllm::runtime {
namespace {

// The plain computation: every score at once (of the same chunks, so the floats are the same), history and
// padding masked, a full stable sort.
TopK reference(const at::Tensor& users, const at::Tensor& table, int64_t k, const std::vector<int64_t>& offsets,
               const std::vector<int64_t>& items, int64_t chunk) {
  at::Tensor scores = scores_over_table(users, table, chunk).contiguous();
  const float minus_infinity = -std::numeric_limits<float>::infinity();
  for (int64_t r = 0; r < users.size(0); ++r) {
    scores[r][0] = minus_infinity;
    for (int64_t h = offsets[r]; h < offsets[r + 1]; ++h) scores[r][items[h]] = minus_infinity;
  }
  const auto [sorted, order] = scores.sort(/*stable=*/true, 1, /*descending=*/true);
  TopK out{order.slice(1, 0, k).contiguous(), sorted.slice(1, 0, k).contiguous()};
  out.indices = out.indices.masked_fill(out.scores.eq(minus_infinity), -1);
  return out;
}

TEST(TopK, ChunkByChunkEqualsTheWholeTableWithHistoryMasked) {
  at::manual_seed(3);
  const at::Tensor users = at::randn({5, 8}), table = at::randn({103, 8});
  const std::vector<int64_t> offsets{0, 3, 3, 4, 9, 10}, items{1, 50, 102, 7, 2, 3, 4, 5, 6, 60};
  for (int64_t chunk : {1, 7, 50, 102, 103, 4096}) {
    const TopK want = reference(users, table, 10, offsets, items, chunk);
    EXPECT_TRUE(at::allclose(want.scores, reference(users, table, 10, offsets, items, 103).scores, 1e-5, 1e-6));
    const TopK got = top_k_over_table(users, table, 10, offsets, items, chunk);
    EXPECT_TRUE(at::equal(got.indices, want.indices)) << "chunk " << chunk;
    EXPECT_TRUE(at::equal(got.scores, want.scores)) << "chunk " << chunk;
  }
  // Nothing masked is listed: not the padding, not row 0's history.
  const TopK got = top_k_over_table(users, table, 102, offsets, items, 16);
  for (int64_t j = 0; j < 102; ++j) {
    const int64_t item = got.indices[0][j].item<int64_t>();
    EXPECT_NE(item, 0);
    EXPECT_TRUE(item != 1 && item != 50 && item != 102) << item;
  }
}

TEST(TopK, FewerItemsThanKLeavesTheRestEmpty) {
  const at::Tensor users = at::ones({1, 2}), table = at::tensor({0.0f, 0.0f, 1.0f, 0.0f, 0.0f, 2.0f, 3.0f, 3.0f}).view({4, 2});
  const TopK got = top_k_over_table(users, table, 5, {0, 1}, {2}, 2);
  EXPECT_EQ(std::vector<int64_t>(got.indices.data_ptr<int64_t>(), got.indices.data_ptr<int64_t>() + 5),
            (std::vector<int64_t>{3, 1, -1, -1, -1}));
}

TEST(TopK, EqualScoresListTheLowerRowFirst) {
  const at::Tensor users = at::ones({1, 1}), table = at::ones({9, 1});
  const TopK got = top_k_over_table(users, table, 4, {0, 0}, {}, 3);
  EXPECT_EQ(std::vector<int64_t>(got.indices.data_ptr<int64_t>(), got.indices.data_ptr<int64_t>() + 4),
            (std::vector<int64_t>{1, 2, 3, 4}));
}

// A table held in slices (as a sharded catalogue holds it): each slice's best, over blocks cut at the
// slices' boundaries, merged in slice order, equals the whole table's best over the same blocks, to the
// last bit, ties and short rows included.
TEST(TopK, SlicesMergedEqualTheWholeTable) {
  at::manual_seed(5);
  at::Tensor table = at::randn({40, 4});
  table.slice(0, 20, 24).copy_(table.slice(0, 2, 6));  // equal scores across slices
  const at::Tensor users = at::randn({3, 4});
  const std::vector<int64_t> offsets{0, 2, 2, 5}, items{3, 30, 1, 21, 39};
  const std::vector<int64_t> cuts{0, 9, 9, 20, 33, 40};  // an empty slice among them
  for (int64_t k : {1, 5, 12, 40}) {
    const TopK whole = top_k_over_rows(users, table, 0, k, offsets, items, score_blocks(0, 40, cuts, 8));
    std::vector<TopK> parts;
    for (size_t s = 0; s + 1 < cuts.size(); ++s) {
      const at::Tensor rows = table.slice(0, cuts[s], cuts[s + 1]);
      parts.push_back(top_k_over_rows(users, rows, cuts[s], k, offsets, items, score_blocks(cuts[s], cuts[s + 1], cuts, 8)));
    }
    const TopK merged = merge_top_k(parts, k);
    EXPECT_TRUE(at::equal(merged.indices, whole.indices)) << "k " << k;
    EXPECT_TRUE(at::equal(merged.scores, whole.scores)) << "k " << k;
    EXPECT_TRUE(at::equal(whole.indices, top_k_over_table(users, table, k, offsets, items, 8).indices)) << "k " << k;
  }
}

TEST(TopK, BlocksBeginAtEveryMultipleAndCutInsideTheRows) {
  EXPECT_EQ(score_blocks(0, 20, {}, 8), (std::vector<int64_t>{0, 8, 16, 20}));
  EXPECT_EQ(score_blocks(5, 20, {0, 9, 9, 20, 33}, 8), (std::vector<int64_t>{5, 8, 9, 16, 20}));
  EXPECT_EQ(score_blocks(7, 7, {0, 7}, 8), (std::vector<int64_t>{7, 7}));
}

}  // namespace
}  // namespace hllm::runtime
