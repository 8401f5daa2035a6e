// CatalogueShard on thread ranks: a table held in slices, one per replica, gives every replica the same
// target ranks, top K lists and history rows as the whole table held on each, to the last bit, with
// replicas of different batch sizes, an empty slice, ties across slices and masked targets.
#include "runtime/catalogue_shard.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <mutex>

#include "parallel/comm/thread_communicator.h"

namespace hllm::runtime {
namespace {

// Replica r's batch: 3 + r users, each with a history of a few rows and a target (the first user's target
// is in its history: masked; the last row is filler).
data::EvalBatch batch_of(int replica, int64_t rows) {
  data::EvalBatch batch;
  batch.rows = 3 + replica;
  batch.width = 2;
  batch.history_offsets = {0};
  for (int u = 0; u < batch.rows; ++u) {
    const int64_t a = (37 * (u + 1) + 11 * replica) % rows, b = (53 * (u + 2) + 7 * replica) % rows;
    batch.items.insert(batch.items.end(), {u == 0 ? 0 : a, b});
    batch.history_items.insert(batch.history_items.end(), {a, b});
    batch.history_offsets.push_back(static_cast<int64_t>(batch.history_items.size()));
    batch.targets.push_back(u + 1 == batch.rows ? 0 : u == 0 ? b : (97 * (u + 3) + replica) % rows);
  }
  return batch;
}

struct Seen {
  std::vector<int64_t> ranks;
  TopK top;
  at::Tensor history_rows;
};

TEST(CatalogueShard, SlicesGiveWhatTheWholeTableGives) {
  const int R = 3;
  const CatalogueLayout layout = CatalogueLayout::of(700, R);  // three chunks of 256: 257, 256, 188 rows
  at::manual_seed(7);
  at::Tensor table = at::randn({layout.rows(), 8});
  table[0].zero_();
  table.slice(0, 600, 610).copy_(table.slice(0, 100, 110));  // ties across slices
  const at::Tensor users = at::randn({R, 6, 8});
  auto run = [&](bool sharded) {
    std::vector<Seen> seen(R);
    std::mutex mutex;
    parallel::run_thread_ranks(R, [&](parallel::Communicator& comm) {
      const int r = comm.rank();
      const CatalogueShard shard =
          sharded ? CatalogueShard::sliced(table.slice(0, layout.begin(r), layout.end(r)).clone(), layout, r, comm, comm)
                  : CatalogueShard::whole(table, layout);
      const data::EvalBatch batch = batch_of(r, layout.rows());
      const at::Tensor mine = users[r].slice(0, 0, batch.rows);
      Seen s{shard.target_ranks(mine, batch), shard.top_k(mine, batch, 20), {}};
      const auto [rows, renumbered] = shard.rows_read_by(batch);
      s.history_rows = rows.index_select(0, at::tensor(renumbered.items, at::kLong));
      EXPECT_TRUE(at::equal(s.history_rows, table.index_select(0, at::tensor(batch.items, at::kLong))));
      EXPECT_EQ(renumbered.items[0], 0) << "the padding row stays row 0";
      std::lock_guard<std::mutex> lock(mutex);
      seen[r] = std::move(s);
    });
    return seen;
  };
  const std::vector<Seen> whole = run(false), sliced = run(true);
  for (int r = 0; r < R; ++r) {
    EXPECT_EQ(sliced[r].ranks, whole[r].ranks) << "replica " << r;
    EXPECT_EQ(whole[r].ranks[0], layout.rows()) << "a target in the history is a miss";
    EXPECT_EQ(whole[r].ranks.back(), 0) << "a filler row";
    EXPECT_TRUE(at::equal(sliced[r].top.indices, whole[r].top.indices)) << "replica " << r;
    EXPECT_TRUE(at::equal(sliced[r].top.scores, whole[r].top.scores)) << "replica " << r;
  }
}

TEST(CatalogueShard, LayoutSplitsWholeChunksAndFindsOwners) {
  const CatalogueLayout layout = CatalogueLayout::of(300, 3);  // two chunks over three replicas: one empty
  EXPECT_EQ(layout.starts, (std::vector<int64_t>{0, 1, 257, 301}));
  EXPECT_EQ(layout.owner(0), 0);
  EXPECT_EQ(layout.owner(1), 1);
  EXPECT_EQ(layout.owner(256), 1);
  EXPECT_EQ(layout.owner(257), 2);
  EXPECT_EQ(layout.first_item(0), 1);
}

}  // namespace
}  // namespace hllm::runtime
