// ShardedLoader: the training batches of one data-parallel rank. It reads only the users whose windows
// fall in its range (data/training_windows.h), by hyperslab from the shard files, and item tokens per
// batch from items.h5. A background thread prepares the next `prefetch` batches into a bounded queue.
//
// Every batch is a pure function of (seed, epoch, batch index, rank, dp), so state() is just the position
// of the next batch, and restore() resumes exactly. Every rank yields the same number of batches per
// epoch (collectives stay matched); short ranks fill their last batch with masked-out rows, and a skipped
// window (data/skipped_windows.h) is a masked-out row where it would have been.
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
  std::shared_ptr<const std::vector<int64_t>> order_of(int64_t epoch) const;

  LoaderOptions options_;
  int64_t num_items_ = 0;
  std::vector<int64_t> warm_items_;  // when the dataset has cold items: the others, where negatives are drawn
  TrainingWindows windows_;
  std::pair<int64_t, int64_t> range_;
  int64_t batches_per_epoch_ = 0;
  int64_t first_user_ = 0;                     // first user held in memory
  std::vector<UserSequence> users_;            // users [first_user_, ...)
  std::unique_ptr<ItemTokenReader> tokens_;

  mutable std::mutex order_mutex_;
  mutable int64_t order_epoch_ = -1;
  mutable std::shared_ptr<const std::vector<int64_t>> order_;  // of order_epoch_

  LoaderState position_;
  std::thread thread_;
  std::mutex queue_mutex_;
  std::condition_variable queue_changed_;
  std::deque<Batch> queue_;
  std::exception_ptr thread_error_;
  bool stop_ = false;
};

}  // namespace hllm::data
