#include "data/sharded_loader.h"
#include "data/skipped_windows.h"
#include "data/cost_partition.h"
#include "data/eval_loader.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "common/error.h"
#include "data/dataset_builder.h"
#include "data/dataset_writer.h"
#include "data/synthetic_catalog.h"
#include "data/tokenizer.h"
#include "data/user_reader.h"
#include "tests/data/data_test_util.h"

namespace hllm::data {
namespace {

using testing::TempDir;

TEST(TrainingWindows, HandExample) {
  // One user with 9 items: 7 for training (a..g), S = 3 -> [d e f g] and [a b c d].
  TrainingWindows windows({9}, 3);
  ASSERT_EQ(windows.size(), 2);
  const Window oldest = windows.window(0), newest = windows.window(1);
  EXPECT_EQ(oldest.begin, 0);
  EXPECT_EQ(oldest.end, 4);
  EXPECT_EQ(newest.begin, 3);
  EXPECT_EQ(newest.end, 7);
  EXPECT_EQ(windows_of(1, 3), 0);  // one training item: nothing to predict
  EXPECT_EQ(windows_of(2, 3), 1);
  EXPECT_EQ(windows_of(4, 3), 1);
  EXPECT_EQ(windows_of(5, 3), 2);
}

TEST(TrainingWindows, EveryTransitionExactlyOnce) {
  const std::vector<int64_t> lengths = {3, 4, 5, 9, 12, 30, 31, 32, 100};
  for (int s : {1, 2, 5, 10}) {
    TrainingWindows windows(lengths, s);
    std::map<std::pair<int64_t, int64_t>, int> seen;  // (user, target position)
    for (int64_t i = 0; i < windows.size(); ++i) {
      const Window w = windows.window(i);
      EXPECT_LE(w.end - w.begin, s + 1);
      for (int64_t p = w.begin + 1; p < w.end; ++p) ++seen[{w.user, p}];
    }
    for (size_t u = 0; u < lengths.size(); ++u) {
      for (int64_t p = 1; p < lengths[u] - 2; ++p) EXPECT_EQ((seen[{int64_t(u), p}]), 1) << "s=" << s << " u=" << u << " p=" << p;
    }
    int64_t transitions = 0;
    for (auto& [key, count] : seen) transitions += count;
    int64_t expected = 0;
    for (auto l : lengths) expected += std::max<int64_t>(0, l - 3);
    EXPECT_EQ(transitions, expected);
  }
}

TEST(EpochOrder, PermutationThatDependsOnEpochAndRank) {
  const auto a = epoch_order(1000, 64, 7, 0, 0);
  auto sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 1000; ++i) ASSERT_EQ(sorted[i], i);
  EXPECT_EQ(a, epoch_order(1000, 64, 7, 0, 0));
  EXPECT_NE(a, epoch_order(1000, 64, 7, 1, 0));
  EXPECT_NE(a, epoch_order(1000, 64, 7, 0, 1));
  EXPECT_NE(a, epoch_order(1000, 64, 8, 0, 0));
}

TEST(RankRange, PartitionsEvenly) {
  for (int dp : {1, 2, 3, 7}) {
    int64_t next = 0;
    for (int r = 0; r < dp; ++r) {
      const auto [first, end] = TrainingWindows::rank_range(100, r, dp);
      EXPECT_EQ(first, next);
      EXPECT_LE(std::abs((end - first) - 100 / dp), 1);
      next = end;
    }
    EXPECT_EQ(next, 100);
  }
}

class LoaderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("loader");
    const auto catalog = make_synthetic_catalog(parse_synthetic_options("users=60,items=50,seed=5"));
    built_ = new BuiltDataset(build_dataset(catalog, {}));
    Tokenizer::train(built_->item_texts, 150, dir_->file("tok.model"));
    WriteOptions options;
    options.num_shards = 4;
    options.max_text_len = 8;
    const auto tokenizer = Tokenizer::load(dir_->file("tok.model"));
    write_dataset(dir_->file("ds"), *built_, tokenizer.files(), options);
  }
  static void TearDownTestSuite() {
    delete built_;
    delete dir_;
  }
  static Dataset dataset() { return Dataset::open(dir_->file("ds")); }
  static LoaderOptions options(int rank = 0, int dp = 1) {
    LoaderOptions o;
    o.max_item_list_len = 5;
    o.micro_batch = 4;
    o.num_negatives = 6;
    o.seed = 11;
    o.shuffle_block = 16;
    o.dp_rank = rank;
    o.dp_size = dp;
    return o;
  }
  static TempDir* dir_;
  static BuiltDataset* built_;
};
TempDir* LoaderTest::dir_ = nullptr;
BuiltDataset* LoaderTest::built_ = nullptr;

void expect_same_batch(const Batch& a, const Batch& b) {
  EXPECT_EQ(a.epoch, b.epoch);
  EXPECT_EQ(a.index, b.index);
  EXPECT_EQ(a.items, b.items);
  EXPECT_EQ(a.negatives, b.negatives);
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_EQ(a.windows, b.windows);
}

TEST_F(LoaderTest, SameSeedSameBatches) {
  const auto ds = dataset();
  ShardedLoader a(ds, options()), b(ds, options());
  for (int i = 0; i < 25; ++i) expect_same_batch(a.next(), b.next());
  auto other = options();
  other.seed = 12;
  ShardedLoader c(ds, other);
  ShardedLoader d(ds, options());
  EXPECT_NE(c.next().windows, d.next().windows);
}

TEST_F(LoaderTest, EveryWindowOncePerEpochForOneTwoThreeRanks) {
  const auto ds = dataset();
  for (int dp : {1, 2, 3}) {
    std::map<int64_t, int> count;
    int64_t total = 0;
    int64_t batches = -1;
    for (int rank = 0; rank < dp; ++rank) {
      ShardedLoader loader(ds, options(rank, dp));
      total = loader.total_windows();
      if (batches < 0) batches = loader.batches_per_epoch();
      EXPECT_EQ(loader.batches_per_epoch(), batches) << "ranks disagree on the epoch length";
      for (int64_t b = 0; b < loader.batches_per_epoch(); ++b) {
        const Batch batch = loader.next();
        for (int r = 0; r < batch.rows; ++r) {
          const int64_t w = batch.windows[r];
          const bool any = std::any_of(batch.mask.begin() + r * batch.width, batch.mask.begin() + (r + 1) * batch.width,
                                       [](uint8_t m) { return m != 0; });
          EXPECT_EQ(w >= 0, any) << "filler rows, and only they, carry no items";
          EXPECT_EQ(w >= 0, r < batch.real_samples);
          if (w >= 0) ++count[w];
        }
      }
      EXPECT_EQ(loader.state(), (LoaderState{1, 0}));
    }
    EXPECT_EQ(static_cast<int64_t>(count.size()), total) << "dp=" << dp;
    for (const auto& [w, c] : count) EXPECT_EQ(c, 1) << "window " << w << " dp=" << dp;
  }
}

TEST_F(LoaderTest, ResumeMidEpochGivesTheSameBatches) {
  const auto ds = dataset();
  ShardedLoader uninterrupted(ds, options(1, 2));
  const int64_t per_epoch = uninterrupted.batches_per_epoch();
  std::vector<Batch> reference;
  for (int64_t i = 0; i < per_epoch + per_epoch / 2 + 3; ++i) reference.push_back(uninterrupted.next());
  for (const int64_t stop : {int64_t(1), per_epoch / 2, per_epoch, per_epoch + 2}) {
    ShardedLoader first(ds, options(1, 2));
    for (int64_t i = 0; i < stop; ++i) first.next();
    const LoaderState saved = first.state();
    ShardedLoader resumed(ds, options(1, 2));  // a new process would start like this
    resumed.restore(saved);
    for (size_t i = stop; i < reference.size(); ++i) expect_same_batch(resumed.next(), reference[i]);
  }
  EXPECT_THROW(uninterrupted.restore({0, per_epoch}), Error);
}

// A skipped window is a masked filler row where it would have been; every other row, the negatives and the
// batch count stay as they were, in its epoch only. windows_of names what every rank's batches hold.
TEST_F(LoaderTest, SkippedWindowsBecomeFillerRowsInTheirPlace) {
  const auto ds = dataset();
  for (int dp : {1, 2}) {
    std::vector<std::vector<Batch>> plain(dp);
    SkippedWindows skip;
    for (int rank = 0; rank < dp; ++rank) {
      ShardedLoader loader(ds, options(rank, dp));
      for (int64_t b = 0; b < loader.batches_per_epoch() + 2; ++b) plain[rank].push_back(loader.next());
      skip.add({0, plain[rank][1].windows[0]});  // epoch 0, batch 1, row 0 and row 2
      skip.add({0, plain[rank][1].windows[2]});
    }
    for (int rank = 0; rank < dp; ++rank) {
      auto with_skip = options(rank, dp);
      with_skip.skipped = skip;
      ShardedLoader loader(ds, with_skip);
      for (size_t b = 0; b < plain[rank].size(); ++b) {
        const Batch batch = loader.next();
        const Batch& before = plain[rank][b];
        EXPECT_EQ(batch.negatives, before.negatives);
        for (int r = 0; r < batch.rows; ++r) {
          const bool skipped = batch.epoch == 0 && before.windows[r] >= 0 && skip.contains(0, before.windows[r]);
          EXPECT_EQ(batch.windows[r], skipped ? -1 : before.windows[r]) << "dp " << dp << " batch " << b << " row " << r;
          const auto row = [&](const Batch& x) {
            return std::vector<int64_t>(x.items.begin() + r * x.width, x.items.begin() + (r + 1) * x.width);
          };
          EXPECT_EQ(row(batch), skipped ? std::vector<int64_t>(batch.width, 0) : row(before));
        }
        EXPECT_EQ(batch.real_samples, before.real_samples - (b == 1 ? 2 : 0)) << "batch " << b;
      }
    }
    // The windows of the first two batches of every rank, as the ranks' own batches hold them.
    ShardedLoader any(ds, options(0, dp));
    std::vector<WindowAt> expected;
    for (int rank = 0; rank < dp; ++rank) {
      for (int b = 0; b < 2; ++b) {
        for (const int64_t w : plain[rank][b].windows) {
          if (w >= 0) expected.push_back({0, w});
        }
      }
    }
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(any.windows_of({0, 0}, 2), expected) << "dp " << dp;
    any.skip(skip);
    EXPECT_EQ(any.windows_of({0, 1}, 1).size(), expected.size() / 2 - 2 * dp) << "skipped windows are not named again";
  }
}

// The balanced partition: equal counts, a pure function of the costs, and the loads by hand: the sorted
// greedy gives 9 8 7 to the three groups, the 3s and 2s back from the lightest, then the 1s where there is
// room (13, 14, 15); one swap of a 3 of the heaviest with a 2 of the lightest makes 14 each.
TEST(CostPartition, EqualCountsNearlyEqualCosts) {
  const std::vector<double> costs = {9, 1, 1, 1, 8, 2, 2, 2, 7, 3, 3, 3};
  const auto parts = partition_by_cost(costs, 3);
  ASSERT_EQ(parts.size(), 3u);
  std::vector<int64_t> all;
  double lightest = 1e9, heaviest = 0;
  for (const auto& part : parts) {
    EXPECT_EQ(part.size(), 4u);
    EXPECT_TRUE(std::is_sorted(part.begin(), part.end()));
    double load = 0;
    for (const int64_t i : part) load += costs[i];
    lightest = std::min(lightest, load);
    heaviest = std::max(heaviest, load);
    all.insert(all.end(), part.begin(), part.end());
  }
  std::sort(all.begin(), all.end());
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i], static_cast<int64_t>(i)) << "every sample once";
  EXPECT_EQ(lightest, 14);
  EXPECT_EQ(heaviest, 14);
  // Dealt in order instead (samples 0-3, 4-7, 8-11, as consecutive windows would be): 12, 14, 16.
  EXPECT_EQ(partition_by_cost(costs, 3), parts) << "deterministic";
  EXPECT_THROW(partition_by_cost(costs, 5), Error);
}

// Samples that share items: a group computes each distinct item once, so the swaps weigh what a sample adds
// to a group beside what it holds. Item 1 costs 10, the others 1; samples {1,2} {1,3} {4,5} {6,7} in two
// groups of two. The greedy puts the two costly samples apart (11 each), then one cheap one with each: 13
// and 13. Swapping the heaviest group's costly sample for the other's cheap one puts item 1's holders
// together, computed once: 4 and 12.
TEST(CostPartition, SharedItemsAreCountedOncePerGroup) {
  const std::vector<std::vector<int64_t>> items{{1, 2}, {1, 3}, {4, 5}, {6, 7}};
  const std::vector<double> own(4, 0.0);
  const auto cost = [](int64_t item) { return item == 1 ? 10.0 : 1.0; };
  const auto parts = partition_item_sets(items, own, cost, 2, {{}, {}});
  EXPECT_EQ(parts, (std::vector<std::vector<int64_t>>{{2, 3}, {0, 1}}));  // the first swap found: 0 for 3
  EXPECT_EQ(partition_item_sets(items, own, cost, 2, {{}, {}}), parts) << "deterministic";
}

// Balanced by estimated cost (here each window's distinct items' tokens): the same windows per step as
// dealt, each once per epoch, spread so that the busiest rank's cost is closer to the mean; a pure function
// of the position (resume), and windows_of names what the ranks' batches hold.
TEST_F(LoaderTest, BalancedGlobalBatchesHoldTheSameWindowsSpreadByCost) {
  const auto ds = dataset();
  for (const int dp : {2, 3}) {
    for (const int group : {1, 2}) {
      std::vector<std::vector<Batch>> dealt(dp), balanced(dp);
      for (int rank = 0; rank < dp; ++rank) {
        auto plain = options(rank, dp), even = options(rank, dp);
        even.balance = Balance::kFlops;
        even.balance_group = group;
        even.cost = {1.0, 0.0, 0.0, 0.0};  // an item's tokens
        ShardedLoader a(ds, plain), b(ds, even);
        ASSERT_EQ(a.batches_per_epoch(), b.batches_per_epoch());
        for (int64_t i = 0; i < a.batches_per_epoch(); ++i) {
          dealt[rank].push_back(a.next());
          balanced[rank].push_back(b.next());
        }
        if (rank == 0) {  // windows_of: the windows every rank's batches hold
          std::vector<WindowAt> held;
          for (int64_t i = 0; i < std::min<int64_t>(2, b.batches_per_epoch()); ++i) {
            for (int r = 0; r < dp; ++r) {
              ShardedLoader other(ds, [&] { auto o = even; o.dp_rank = r; return o; }());
              for (const int64_t w : other.make_batch(0, i).windows) {
                if (w >= 0) held.push_back({0, w});
              }
            }
          }
          std::sort(held.begin(), held.end());
          EXPECT_EQ(b.windows_of({0, 0}, std::min<int64_t>(2, b.batches_per_epoch())), held) << "dp " << dp;
        }
      }
      const int64_t batches = static_cast<int64_t>(dealt[0].size());
      std::map<int64_t, int> seen;
      double dealt_ratio = 0, balanced_ratio = 0;
      int64_t groups = 0;
      for (int64_t g = 0; g * group < batches; ++g) {
        std::vector<int64_t> a, b;
        std::vector<double> dealt_cost(dp, 0.0), balanced_cost(dp, 0.0);
        for (int rank = 0; rank < dp; ++rank) {
          for (int64_t i = g * group; i < std::min<int64_t>((g + 1) * group, batches); ++i) {
            const Batch& x = dealt[rank][i];
            const Batch& y = balanced[rank][i];
            for (const int64_t w : x.windows) if (w >= 0) a.push_back(w);
            for (const int64_t w : y.windows) if (w >= 0) b.push_back(w), ++seen[w];
            dealt_cost[rank] += static_cast<double>(x.tokens.size());
            balanced_cost[rank] += static_cast<double>(y.tokens.size());
            int64_t rows = 0;
            for (const int64_t w : y.windows) rows += w >= 0;
            EXPECT_EQ(y.real_samples, rows);
          }
        }
        std::sort(a.begin(), a.end());
        std::sort(b.begin(), b.end());
        EXPECT_EQ(a, b) << "dp " << dp << " group " << g << ": the step's windows";
        const auto ratio = [](const std::vector<double>& c) {
          double sum = 0;
          for (const double x : c) sum += x;
          return *std::max_element(c.begin(), c.end()) / std::max(1.0, sum / static_cast<double>(c.size()));
        };
        dealt_ratio += ratio(dealt_cost);
        balanced_ratio += ratio(balanced_cost);
        ++groups;
      }
      for (const auto& [w, c] : seen) EXPECT_EQ(c, 1) << "window " << w;
      EXPECT_LT(balanced_ratio / groups, dealt_ratio / groups) << "dp " << dp << ", group " << group;
      // Resumed mid-epoch: the same balanced batches.
      auto even = options(dp - 1, dp);
      even.balance = Balance::kFlops;
      even.balance_group = group;
      even.cost = {1.0, 0.0, 0.0, 0.0};
      ShardedLoader resumed(ds, even);
      resumed.restore({0, batches / 2});
      for (int64_t i = batches / 2; i < batches; ++i) expect_same_batch(resumed.next(), balanced[dp - 1][i]);
    }
  }
}

TEST(SkippedWindows, ParsesEpochColonWindowAndNamesWhatIsNot) {
  const SkippedWindows skip = SkippedWindows::parse({"0:12", "3:7", "0:12"}, "data.skip_windows");
  EXPECT_EQ(skip.size(), 2);
  EXPECT_TRUE(skip.contains(3, 7));
  EXPECT_FALSE(skip.contains(0, 7));
  EXPECT_EQ(skip.to_strings(), (std::vector<std::string>{"0:12", "3:7"}));
  EXPECT_EQ(skip.largest_window(), 12);
  for (const std::string bad : {"12", "a:1", "1:", ":1", "-1:3", "1:2:3", "1:2x", ""}) {
    try {
      SkippedWindows::parse({bad}, "data.skip_windows");
      FAIL() << "'" << bad << "' was accepted";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("data.skip_windows: '" + bad + "'"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(check_windows_exist(skip, 12, "ds"), InputError);
  EXPECT_NO_THROW(check_windows_exist(skip, 13, "ds"));
}

// ID models read no item text: the same batches, with empty token lists.
TEST_F(LoaderTest, WithoutItemTokensTheBatchesAreTheSameButCarryNoText) {
  const auto ds = dataset();
  auto without = options();
  without.read_item_tokens = false;
  ShardedLoader a(ds, options()), b(ds, without);
  for (int i = 0; i < 10; ++i) {
    const Batch with_text = a.next(), no_text = b.next();
    EXPECT_EQ(with_text.items, no_text.items);
    EXPECT_EQ(with_text.negatives, no_text.negatives);
    EXPECT_EQ(with_text.unique_items, no_text.unique_items);
    EXPECT_FALSE(with_text.tokens.empty());
    EXPECT_TRUE(no_text.tokens.empty());
    EXPECT_EQ(no_text.token_offsets, std::vector<int64_t>(no_text.unique_items.size() + 1, 0));
  }
}

TEST_F(LoaderTest, DistinctItemsMapBackToWindowsAndNegatives) {
  const auto ds = dataset();
  const auto all_tokens = ds.read_item_tokens();
  ShardedLoader loader(ds, options(0, 1));
  for (int i = 0; i < 10; ++i) {
    const Batch batch = loader.next();
    const auto& unique = batch.unique_items;
    EXPECT_TRUE(std::is_sorted(unique.begin(), unique.end()));
    EXPECT_EQ(std::adjacent_find(unique.begin(), unique.end()), unique.end()) << "not distinct";
    EXPECT_GT(unique.front(), 0) << "padding is never encoded";
    for (size_t p = 0; p < batch.items.size(); ++p) {
      if (batch.items[p] == 0) {
        EXPECT_EQ(batch.item_slots[p], -1);
        EXPECT_EQ(batch.mask[p], 0);
      } else {
        EXPECT_EQ(unique[batch.item_slots[p]], batch.items[p]);
      }
    }
    for (size_t k = 0; k < batch.negatives.size(); ++k) {
      EXPECT_EQ(unique[batch.negative_slots[k]], batch.negatives[k]);
      EXPECT_GE(batch.negatives[k], 1);
      EXPECT_LE(batch.negatives[k], ds.num_items());
    }
    // Every unique item is used by some position or negative (nothing encoded for nothing).
    std::vector<int> used(unique.size(), 0);
    for (const auto slot : batch.item_slots) if (slot >= 0) used[slot] = 1;
    for (const auto slot : batch.negative_slots) used[slot] = 1;
    EXPECT_EQ(std::count(used.begin(), used.end(), 0), 0);
    // Tokens are the dataset's tokens of each unique item.
    ASSERT_EQ(batch.token_offsets.size(), unique.size() + 1);
    for (size_t u = 0; u < unique.size(); ++u) {
      const std::vector<int32_t> got(batch.tokens.begin() + batch.token_offsets[u],
                                     batch.tokens.begin() + batch.token_offsets[u + 1]);
      EXPECT_EQ(got, all_tokens[unique[u]]) << "item " << unique[u];
    }
    // Left padding: once a row's items start, no padding follows.
    for (int r = 0; r < batch.rows; ++r) {
      bool started = false;
      for (int p = 0; p < batch.width; ++p) {
        const bool real = batch.mask[r * batch.width + p] != 0;
        EXPECT_FALSE(started && !real) << "row " << r;
        started = started || real;
      }
    }
  }
}

TEST_F(LoaderTest, WindowContentsMatchTheUsersHistory) {
  const auto ds = dataset();
  ShardedLoader loader(ds, options(0, 1));
  const Batch batch = loader.next();
  for (int64_t r = 0; r < batch.real_samples; ++r) {
    const int64_t user = batch.users[r];
    const auto& history = built_->user_items[user];
    std::vector<int32_t> row;
    for (int p = 0; p < batch.width; ++p) {
      const int64_t item = batch.items[r * batch.width + p];
      if (item) row.push_back(static_cast<int32_t>(item));
    }
    // The row is a contiguous run of the user's training items (valid and test items never appear).
    const std::vector<int32_t> train(history.begin(), history.end() - 2);
    EXPECT_NE(std::search(train.begin(), train.end(), row.begin(), row.end()), train.end()) << "user " << user;
    // Timestamps travel with their items.
    const auto start = std::search(train.begin(), train.end(), row.begin(), row.end()) - train.begin();
    for (size_t k = 0; k < row.size(); ++k) {
      const size_t column = batch.width - row.size() + k;
      EXPECT_EQ(batch.timestamps[r * batch.width + column], built_->user_timestamps[user][start + k]);
    }
  }
}

TEST_F(LoaderTest, TooManyRanksIsAnError) {
  const auto ds = dataset();
  EXPECT_THROW(ShardedLoader(ds, options(0, 100000)), InputError);
}


TEST_F(LoaderTest, EvalSplitsUsersEvenlyWithTheirTargets) {
  const auto ds = dataset();
  for (const auto split : {EvalSplit::kValid, EvalSplit::kTest, EvalSplit::kAll}) {
    for (int world : {1, 2, 3, 7}) {
      std::vector<int> seen(ds.num_users(), 0);
      int64_t batches = -1;
      for (int rank = 0; rank < world; ++rank) {
        EvalLoader loader(ds, split, rank, world, 4, 5);
        if (batches < 0) batches = loader.num_batches();
        EXPECT_EQ(loader.num_batches(), batches) << "ranks disagree on eval batches";
        for (int64_t b = 0; b < loader.num_batches(); ++b) {
          const EvalBatch batch = loader.batch(b);
          for (int r = 0; r < batch.rows; ++r) {
            const int64_t user = batch.users[r];
            if (user < 0) {
              EXPECT_EQ(batch.targets[r], 0);
              EXPECT_EQ(batch.history_offsets[r + 1], batch.history_offsets[r]);
              continue;
            }
            ++seen[user];
            const auto& items = built_->user_items[user];
            const size_t history = items.size() - (split == EvalSplit::kValid ? 2 : split == EvalSplit::kTest ? 1 : 0);
            EXPECT_EQ(batch.targets[r], split == EvalSplit::kAll ? 0 : items[history]) << "serving has no target";
            EXPECT_EQ(loader.user(user - loader.user_range().first).id, built_->user_ids[user]);
            const std::vector<int64_t> got(batch.history_items.begin() + batch.history_offsets[r],
                                           batch.history_items.begin() + batch.history_offsets[r + 1]);
            EXPECT_EQ(got, std::vector<int64_t>(items.begin(), items.begin() + history));
            // The window is the history's last S items, left-padded.
            const size_t shown = std::min<size_t>(history, 5);
            for (size_t k = 0; k < shown; ++k) {
              EXPECT_EQ(batch.items[r * 5 + (5 - shown) + k], items[history - shown + k]);
            }
          }
        }
      }
      for (int64_t u = 0; u < ds.num_users(); ++u) EXPECT_EQ(seen[u], 1) << "user " << u << " world " << world;
    }
  }
}

TEST(ColdItemsLoader, TrainingNeverSeesAColdItemNotEvenAsANegative) {
  const TempDir dir("loader-cold");
  const auto catalog = make_synthetic_catalog(parse_synthetic_options("users=60,items=50,seed=5"));
  BuildOptions build;
  build.cold_fraction = 0.3;
  const BuiltDataset built = build_dataset(catalog, build);
  ASSERT_GT(built.counts.cold_items, 5);
  Tokenizer::train(built.item_texts, 150, dir.file("tok.model"));
  write_dataset(dir.file("ds"), built, Tokenizer::load(dir.file("tok.model")).files(), WriteOptions{});
  const Dataset ds = Dataset::open(dir.file("ds"));
  ds.verify();
  const std::vector<uint8_t> cold = ds.read_cold_items();
  ASSERT_EQ(cold, built.item_cold);
  LoaderOptions o;
  o.max_item_list_len = 5;
  o.micro_batch = 4;
  o.num_negatives = 50;
  ShardedLoader loader(ds, o);
  std::set<int64_t> negatives;
  for (int64_t b = 0; b < loader.batches_per_epoch(); ++b) {
    const Batch batch = loader.make_batch(0, b);
    for (int64_t item : batch.items) EXPECT_FALSE(cold[item]) << "cold item " << item << " in a training window";
    for (int64_t item : batch.negatives) EXPECT_FALSE(cold[item]) << "cold item " << item << " as a negative";
    negatives.insert(batch.negatives.begin(), batch.negatives.end());
  }
  EXPECT_EQ(static_cast<int64_t>(negatives.size()), built.counts.items - built.counts.cold_items)
      << "every warm item is drawn";
  int64_t cold_targets = 0;
  const EvalLoader test(ds, EvalSplit::kTest, 0, 1, 8, 5);
  for (int64_t b = 0; b < test.num_batches(); ++b) {
    for (int64_t target : test.batch(b).targets) cold_targets += cold[target];
  }
  EXPECT_GT(cold_targets, 0) << "cold items are test targets";
}

TEST_F(LoaderTest, EvalOverUsersInMemoryCutsThemAsTheDatasetIsCut) {
  const auto ds = dataset();
  const std::vector<UserSequence> users = read_user_sequences(ds, 0, ds.num_users());
  for (const auto split : {EvalSplit::kTest, EvalSplit::kAll}) {
    for (int world : {1, 3}) {
      for (int rank = 0; rank < world; ++rank) {
        const EvalLoader stored(ds, split, rank, world, 4, 5), given(users, split, rank, world, 4, 5);
        ASSERT_EQ(given.num_batches(), stored.num_batches());
        for (int64_t b = 0; b < stored.num_batches(); ++b) {
          const EvalBatch x = stored.batch(b), y = given.batch(b);
          EXPECT_EQ(x.users, y.users);
          EXPECT_EQ(x.items, y.items);
          EXPECT_EQ(x.targets, y.targets);
          EXPECT_EQ(x.history_items, y.history_items);
          EXPECT_EQ(x.target_timestamps, y.target_timestamps);
        }
      }
    }
  }
  UserSequence short_history{"u", {3}, {0}};
  EXPECT_THROW(EvalLoader({short_history}, EvalSplit::kTest, 0, 1, 4, 5), Error) << "no history before the target";
  EXPECT_NO_THROW(EvalLoader({short_history}, EvalSplit::kAll, 0, 1, 4, 5)) << "serving needs one item";
}

}  // namespace
}  // namespace hllm::data
