#include "data/sharded_loader.h"

#include <algorithm>
#include <map>

#include "common/error.h"
#include "data/cost_partition.h"
#include "data/user_reader.h"

namespace hllm::data {

ShardedLoader::ShardedLoader(const Dataset& dataset, const LoaderOptions& options)
    : options_(options),
      num_items_(dataset.num_items()),
      windows_(read_user_lengths(dataset), options.max_item_list_len),
      range_(TrainingWindows::rank_range(windows_.size(), options.dp_rank, options.dp_size)) {
  HLLM_CHECK(options.micro_batch >= 1, "loader: micro batch must be positive, got ", options.micro_batch);
  HLLM_CHECK(options.num_negatives >= 0, "loader: negatives must not be negative, got ", options.num_negatives);
  if (windows_.size() < options.dp_size) {
    throw InputError(detail::concat(dataset.directory(), ": ", windows_.size(), " training windows for ", options.dp_size,
                                    " data-parallel ranks; use fewer ranks or more data"));
  }
  check_windows_exist(options.skipped, windows_.size(), dataset.directory());
  // Same count on every rank: the largest range decides.
  const int64_t largest = (windows_.size() + options.dp_size - 1) / options.dp_size;
  batches_per_epoch_ = (largest + options.micro_batch - 1) / options.micro_batch;

  HLLM_CHECK(options.balance_group >= 1, "loader: a balance group of ", options.balance_group, " micro-batches");
  // Read the users this rank's windows touch (balanced: any window may come here, so every user), shard by
  // shard, by hyperslab.
  const bool balanced = options.balance == Balance::kFlops;
  first_user_ = balanced ? 0 : windows_.window(range_.first).user;
  const int64_t last_user = balanced ? dataset.num_users() - 1 : windows_.window(range_.second - 1).user;
  users_ = read_user_sequences(dataset, first_user_, last_user + 1);
  tokens_ = std::make_unique<ItemTokenReader>(dataset);
  around_text_ = static_cast<int64_t>(dataset.meta().at("prompt_tokens").size()) + 1;
  // Negatives are drawn from the items training may see: cold items never appear in it, not even as negatives.
  const std::vector<uint8_t> cold = dataset.read_cold_items();
  for (size_t i = 1; i < cold.size(); ++i) {
    if (!cold[i]) warm_items_.push_back(static_cast<int64_t>(i));
  }
  start_prefetch();
}

ShardedLoader::~ShardedLoader() { stop_prefetch(); }

std::shared_ptr<const std::vector<std::vector<int64_t>>> ShardedLoader::orders_of(int64_t epoch) const {
  // One epoch's orders are cached; the prefetcher and direct make_batch() callers may both ask. Unbalanced,
  // a rank needs only its own.
  std::lock_guard<std::mutex> lock(order_mutex_);
  if (order_epoch_ != epoch) {
    orders_ = std::make_shared<std::vector<std::vector<int64_t>>>(
        all_orders(epoch, options_.balance == Balance::kFlops ? -1 : options_.dp_rank));
    order_epoch_ = epoch;
  }
  return orders_;
}

std::vector<std::vector<int64_t>> ShardedLoader::all_orders(int64_t epoch, int only_rank) const {
  std::vector<std::vector<int64_t>> orders(options_.dp_size);
  for (int rank = 0; rank < options_.dp_size; ++rank) {
    if (only_rank >= 0 && rank != only_rank) continue;
    const auto range = TrainingWindows::rank_range(windows_.size(), rank, options_.dp_size);
    orders[rank] = epoch_order(range.second - range.first, options_.shuffle_block, options_.seed, epoch, rank);
  }
  return orders;
}

std::vector<int64_t> ShardedLoader::dealt_windows(const std::vector<std::vector<int64_t>>& orders, int64_t epoch,
                                                  int64_t batch, int rank) const {
  const int64_t first = TrainingWindows::rank_range(windows_.size(), rank, options_.dp_size).first;
  const auto& order = orders[rank];
  std::vector<int64_t> ids(options_.micro_batch, -1);
  for (int r = 0; r < options_.micro_batch; ++r) {
    const int64_t position = batch * options_.micro_batch + r;
    if (position >= static_cast<int64_t>(order.size())) break;  // filler rows
    const int64_t id = first + order[position];
    if (!options_.skipped.contains(epoch, id)) ids[r] = id;  // a skipped window: a filler row in its place
  }
  return ids;
}

std::vector<int64_t> ShardedLoader::negatives_of(int64_t epoch, int64_t batch, int rank) const {
  std::vector<int64_t> negatives(options_.num_negatives);
  for (int k = 0; k < options_.num_negatives; ++k) {
    const uint64_t h = mix_hash(options_.seed ^ 0x6e656773ull, static_cast<uint64_t>(epoch), static_cast<uint64_t>(batch),
                                (static_cast<uint64_t>(rank) << 32) | static_cast<uint64_t>(k));
    negatives[k] = warm_items_.empty() ? 1 + static_cast<int64_t>(h % static_cast<uint64_t>(num_items_))
                                       : warm_items_[h % warm_items_.size()];
  }
  return negatives;
}

double ShardedLoader::item_cost(int64_t item) const {
  const double tokens = static_cast<double>(around_text_ + tokens_->text_length(item));
  return options_.cost.item_linear * tokens + options_.cost.item_square * tokens * tokens;
}

std::vector<int64_t> ShardedLoader::assigned_windows(const std::vector<std::vector<int64_t>>& orders, int64_t epoch,
                                                     int64_t batch, int rank) const {
  if (options_.balance == Balance::kNone) return dealt_windows(orders, epoch, batch, rank);
  // The balance group: the step's micro-batches (aligned within the epoch), every rank's, pooled.
  const int64_t group_first = batch / options_.balance_group * options_.balance_group;
  const int64_t group_end = std::min(group_first + options_.balance_group, batches_per_epoch_);
  std::vector<int64_t> pool;
  for (int r = 0; r < options_.dp_size; ++r) {
    for (int64_t b = group_first; b < group_end; ++b) {
      const std::vector<int64_t> dealt = dealt_windows(orders, epoch, b, r);
      pool.insert(pool.end(), dealt.begin(), dealt.end());
    }
  }
  // Each window: its items and its positions' cost; each micro-batch encodes its distinct items once,
  // its sampled negatives among them, so those are the work a group has before any window.
  std::vector<std::vector<int64_t>> items(pool.size());
  std::vector<double> own(pool.size(), 0.0);
  for (size_t i = 0; i < pool.size(); ++i) {
    if (pool[i] < 0) continue;  // a filler row costs nothing
    const Window w = windows_.window(pool[i]);
    const auto& sequence = users_[w.user - first_user_];
    items[i].assign(sequence.items.begin() + w.begin, sequence.items.begin() + w.end);
    const double positions = static_cast<double>(w.end - w.begin);
    own[i] = options_.cost.position_linear * positions + options_.cost.position_square * positions * positions;
  }
  const auto cost_of = [this](int64_t item) { return item_cost(item); };
  std::vector<std::vector<int64_t>> rank_negatives(options_.dp_size), micro_negatives;
  for (int r = 0; r < options_.dp_size; ++r) {
    for (int64_t b = group_first; b < group_end; ++b) {
      const std::vector<int64_t> negatives = negatives_of(epoch, b, r);
      rank_negatives[r].insert(rank_negatives[r].end(), negatives.begin(), negatives.end());
      if (r == rank) micro_negatives.push_back(negatives);
    }
  }
  // Across the ranks, then this rank's share across its micro-batches.
  const std::vector<int64_t> mine = partition_item_sets(items, own, cost_of, options_.dp_size, rank_negatives)[rank];
  std::vector<std::vector<int64_t>> my_items;
  std::vector<double> my_own;
  for (const int64_t i : mine) {
    my_items.push_back(items[i]);
    my_own.push_back(own[i]);
  }
  const std::vector<int64_t> rows = partition_item_sets(my_items, my_own, cost_of, static_cast<int>(group_end - group_first),
                                                        micro_negatives)[batch - group_first];
  std::vector<int64_t> ids;
  for (const int64_t row : rows) ids.push_back(pool[mine[row]]);
  return ids;
}

Batch ShardedLoader::make_batch(int64_t epoch, int64_t batch_index) const {
  HLLM_CHECK(batch_index >= 0 && batch_index < batches_per_epoch_, "loader: batch ", batch_index, " of ",
             batches_per_epoch_);
  const int rows = options_.micro_batch;
  const int width = options_.max_item_list_len + 1;
  std::vector<int64_t> items(static_cast<size_t>(rows) * width, 0);
  std::vector<int64_t> timestamps(items.size(), 0);
  std::vector<int64_t> users(rows, -1);
  std::vector<int64_t> window_ids(rows, -1);
  int64_t real = 0;
  {
    const std::vector<int64_t> assigned = assigned_windows(*orders_of(epoch), epoch, batch_index, options_.dp_rank);
    for (int r = 0; r < rows; ++r) {
      const int64_t id = assigned[r];
      if (id < 0) continue;  // a filler row
      window_ids[r] = id;
      const Window w = windows_.window(window_ids[r]);
      const auto& sequence = users_[w.user - first_user_];
      const int64_t length = w.end - w.begin;
      for (int64_t k = 0; k < length; ++k) {
        items[r * width + (width - length) + k] = sequence.items[w.begin + k];
        timestamps[r * width + (width - length) + k] = sequence.timestamps[w.begin + k];
      }
      users[r] = w.user;
      ++real;
    }
  }
  std::vector<int64_t> negatives = negatives_of(epoch, batch_index, options_.dp_rank);

  // Distinct items, ascending; slots map positions and negatives to rows of unique_items.
  std::vector<int64_t> unique;
  for (const auto item : items) {
    if (item != 0) unique.push_back(item);
  }
  unique.insert(unique.end(), negatives.begin(), negatives.end());
  std::sort(unique.begin(), unique.end());
  unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
  auto slot_of = [&](int64_t item) {
    return static_cast<int64_t>(std::lower_bound(unique.begin(), unique.end(), item) - unique.begin());
  };
  std::vector<int64_t> item_slots(items.size(), -1);
  for (size_t i = 0; i < items.size(); ++i) {
    if (items[i] != 0) item_slots[i] = slot_of(items[i]);
  }
  std::vector<int64_t> negative_slots(negatives.size());
  for (size_t k = 0; k < negatives.size(); ++k) negative_slots[k] = slot_of(negatives[k]);
  std::vector<int64_t> token_offsets(unique.size() + 1, 0), tokens;
  if (options_.read_item_tokens) tokens_->read(unique, &token_offsets, &tokens);

  Batch batch;
  batch.epoch = epoch;
  batch.index = batch_index;
  batch.real_samples = real;
  batch.rows = rows;
  batch.width = width;
  batch.mask.resize(items.size());
  for (size_t i = 0; i < items.size(); ++i) batch.mask[i] = items[i] != 0;
  batch.items = std::move(items);
  batch.timestamps = std::move(timestamps);
  batch.users = std::move(users);
  batch.windows = std::move(window_ids);
  batch.negatives = std::move(negatives);
  batch.unique_items = std::move(unique);
  batch.item_slots = std::move(item_slots);
  batch.negative_slots = std::move(negative_slots);
  batch.token_offsets = std::move(token_offsets);
  batch.tokens = std::move(tokens);
  return batch;
}

Batch ShardedLoader::next() {
  Batch batch;
  if (options_.prefetch == 0) {
    batch = make_batch(position_.epoch, position_.batch);
  } else {
    std::unique_lock<std::mutex> lock(queue_mutex_);
    queue_changed_.wait(lock, [&] { return !queue_.empty() || thread_error_; });
    if (queue_.empty() && thread_error_) std::rethrow_exception(thread_error_);
    batch = std::move(queue_.front());
    queue_.pop_front();
    queue_changed_.notify_all();
  }
  HLLM_ASSERT(batch.epoch == position_.epoch && batch.index == position_.batch, "loader: batch out of order");
  if (++position_.batch == batches_per_epoch_) position_ = {position_.epoch + 1, 0};
  return batch;
}

void ShardedLoader::skip(const SkippedWindows& windows) {
  stop_prefetch();  // the prefetcher reads the list
  options_.skipped = windows;
  start_prefetch();
}

std::vector<WindowAt> ShardedLoader::windows_of(LoaderState from, int64_t batches) const {
  std::vector<WindowAt> windows;
  LoaderState at = from;
  std::vector<std::vector<int64_t>> orders;  // every rank's, of orders_epoch
  int64_t orders_epoch = -1;
  for (int64_t b = 0; b < batches; ++b) {
    if (orders_epoch != at.epoch) {
      orders = all_orders(at.epoch, -1);
      orders_epoch = at.epoch;
    }
    for (int rank = 0; rank < options_.dp_size; ++rank) {
      for (const int64_t id : assigned_windows(orders, at.epoch, at.batch, rank)) {
        if (id >= 0) windows.push_back({at.epoch, id});
      }
    }
    if (++at.batch == batches_per_epoch_) at = {at.epoch + 1, 0};
  }
  std::sort(windows.begin(), windows.end());
  return windows;
}

void ShardedLoader::restore(const LoaderState& state) {
  HLLM_CHECK(state.epoch >= 0 && state.batch >= 0 && state.batch < batches_per_epoch_, "loader: cannot resume at epoch ",
             state.epoch, " batch ", state.batch, " (an epoch has ", batches_per_epoch_, " batches)");
  stop_prefetch();
  position_ = state;
  start_prefetch();
}

void ShardedLoader::start_prefetch() {
  if (options_.prefetch == 0) return;
  stop_ = false;
  thread_error_ = nullptr;
  queue_.clear();
  thread_ = std::thread([this, from = position_] { prefetch_loop(from); });
}

void ShardedLoader::stop_prefetch() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    stop_ = true;
  }
  queue_changed_.notify_all();
  thread_.join();
  queue_.clear();
}

void ShardedLoader::prefetch_loop(LoaderState at) {
  try {
    while (true) {
      Batch batch = make_batch(at.epoch, at.batch);
      if (++at.batch == batches_per_epoch_) at = {at.epoch + 1, 0};
      std::unique_lock<std::mutex> lock(queue_mutex_);
      queue_changed_.wait(lock, [&] { return stop_ || static_cast<int>(queue_.size()) < options_.prefetch; });
      if (stop_) return;
      queue_.push_back(std::move(batch));
      queue_changed_.notify_all();
    }
  } catch (...) {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    thread_error_ = std::current_exception();
    queue_changed_.notify_all();
  }
}

}  // namespace hllm::data
