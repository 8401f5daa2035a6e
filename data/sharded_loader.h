// ShardedLoader: the training batches of one data-parallel rank. Each rank is dealt the windows of its own
// range (data/training_windows.h) in its own shuffled order; the global batch of a step is every rank's
// next `balance_group` micro-batches. With Balance::kFlops that global batch is then partitioned anew
// across the ranks, and within a rank across its micro-batches, so that each gets a near-equal share of the
// estimated training FLOPs (data/cost_partition.h; WindowCost weighs a window's distinct items' tokens and
// its positions): the same windows per step, spread by cost instead of by range. Unbalanced, a rank reads
// only the users of its range by hyperslab; balanced, every user (a rank may get any window). Item tokens
// are read per batch from items.h5. A background thread prepares the next `prefetch` batches into a
// bounded queue.
//
// Every batch is a pure function of (seed, epoch, batch index, rank, dp, skip list), so state() is just the
// position of the next batch, and restore() resumes exactly. Every rank yields the same number of batches
// per epoch (collectives stay matched); short ranks fill their last batch with masked-out rows, and a
// skipped window (data/skipped_windows.h) is a masked-out row where it would have been.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "data/batch.h"
#include "data/dataset.h"
#include "data/item_token_reader.h"
#include "data/skipped_windows.h"
#include "data/training_windows.h"

namespace hllm::data {

// How a global batch is spread over the data-parallel ranks.
enum class Balance { kNone, kFlops };

// A window's estimated training cost, as models/training_work.h counts FLOPs: per distinct item of T tokens
// (prompt + text + [ITEM]) item_linear x T + item_square x T^2 (the Item LLM's 6 N T and attention), and for
// its P positions position_linear x P + position_square x P^2 (the User LLM's, or an ID model's one tower).
struct WindowCost {
  double item_linear = 0, item_square = 0;
  double position_linear = 1, position_square = 0;
};

struct LoaderOptions {
  int max_item_list_len = 10;  // S: a sample holds S + 1 items
  int micro_batch = 4;         // rows per batch
  int num_negatives = 256;     // per batch
  uint64_t seed = 42;
  int64_t shuffle_block = 4096;  // windows shuffled together (see epoch_order)
  int prefetch = 2;              // batches prepared ahead; 0 = build on the calling thread
  int dp_rank = 0;
  int dp_size = 1;
  bool read_item_tokens = true;  // false (ID models): batches carry no item text (token_offsets all 0)
  SkippedWindows skipped;        // windows left out (data.skip_windows)
  Balance balance = Balance::kNone;
  WindowCost cost;               // what balancing equalises
  int balance_group = 1;         // micro-batches per rank in a step (gradient accumulation): balanced together
};

// Where the loader stands: the next batch next() returns.
struct LoaderState {
  int64_t epoch = 0;
  int64_t batch = 0;
  bool operator==(const LoaderState& other) const { return epoch == other.epoch && batch == other.batch; }
};

class ShardedLoader {
 public:
  ShardedLoader(const Dataset& dataset, const LoaderOptions& options);
  ~ShardedLoader();
  ShardedLoader(const ShardedLoader&) = delete;
  ShardedLoader& operator=(const ShardedLoader&) = delete;

  // The next batch; after the last batch of an epoch comes batch 0 of the next epoch.
  Batch next();

  LoaderState state() const { return position_; }
  void restore(const LoaderState& state);

  // From the next batch on, these windows are left out (replacing the current list; batches already
  // prepared are prepared again).
  void skip(const SkippedWindows& windows);
  const SkippedWindows& skipped() const { return options_.skipped; }
  // The windows that `batches` batches from `from` hold on every data-parallel rank, skipped ones left out:
  // what a step read, named without asking the other ranks (O(training windows)).
  std::vector<WindowAt> windows_of(LoaderState from, int64_t batches) const;

  int64_t batches_per_epoch() const { return batches_per_epoch_; }
  int64_t total_windows() const { return windows_.size(); }
  std::pair<int64_t, int64_t> window_range() const { return range_; }

  // Builds a batch directly (what the prefetch thread runs); also for tests.
  Batch make_batch(int64_t epoch, int64_t batch) const;

 private:
  void start_prefetch();
  void stop_prefetch();
  void prefetch_loop(LoaderState from);
  // The epoch orders (offsets into each rank's range) this loader needs, cached for one epoch: every rank's
  // when balanced, else its own (the others empty).
  std::shared_ptr<const std::vector<std::vector<int64_t>>> orders_of(int64_t epoch) const;
  // Every rank's order of `epoch`, or only `only_rank`'s (-1: all).
  std::vector<std::vector<int64_t>> all_orders(int64_t epoch, int only_rank) const;
  // The windows rank `rank`'s batch `batch` of `epoch` holds, -1 for a filler row: dealt from its range, or
  // its share of the balanced global batch (`orders`: every rank's then).
  std::vector<int64_t> assigned_windows(const std::vector<std::vector<int64_t>>& orders, int64_t epoch, int64_t batch,
                                        int rank) const;
  std::vector<int64_t> dealt_windows(const std::vector<std::vector<int64_t>>& orders, int64_t epoch, int64_t batch,
                                     int rank) const;
  double item_cost(int64_t item) const;
  // The negatives of rank `rank`'s batch `batch` of `epoch` (a pure function of them).
  std::vector<int64_t> negatives_of(int64_t epoch, int64_t batch, int rank) const;

  LoaderOptions options_;
  int64_t num_items_ = 0;
  std::vector<int64_t> warm_items_;  // when the dataset has cold items: the others, where negatives are drawn
  TrainingWindows windows_;
  std::pair<int64_t, int64_t> range_;
  int64_t batches_per_epoch_ = 0;
  int64_t first_user_ = 0;                     // first user held in memory
  std::vector<UserSequence> users_;            // users [first_user_, ...)
  std::unique_ptr<ItemTokenReader> tokens_;
  int64_t around_text_ = 0;  // prompt + [ITEM] tokens around every item's text

  mutable std::mutex order_mutex_;
  mutable int64_t order_epoch_ = -1;
  mutable std::shared_ptr<const std::vector<std::vector<int64_t>>> orders_;  // of order_epoch_, per rank

  LoaderState position_;
  std::thread thread_;
  std::mutex queue_mutex_;
  std::condition_variable queue_changed_;
  std::deque<Batch> queue_;
  std::exception_ptr thread_error_;
  bool stop_ = false;
};

}  // namespace hllm::data
