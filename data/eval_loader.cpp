#include "data/eval_loader.h"

#include <algorithm>

#include "common/error.h"
#include "data/training_windows.h"
#include "data/user_reader.h"

namespace hllm::data {

namespace {

int items_after_history(EvalSplit split) {  // target (+ the test item)
  return split == EvalSplit::kValid ? 2 : split == EvalSplit::kTest ? 1 : 0;
}

}  // namespace

template <typename ReadUsers>
void EvalLoader::take_share(int64_t users, int rank, int world_size, const ReadUsers& read) {
  HLLM_CHECK(batch_size_ >= 1 && max_item_list_len_ >= 1, "eval loader: batch size ", batch_size_,
             " and max_item_list_len ", max_item_list_len_, " must be positive");
  // Users are cut into global batches of batch_size (the same for any world size, so a user's batch, and
  // with it every float, is the same on 1 or 64 ranks); each rank takes a contiguous run of batches.
  const int64_t batches = (users + batch_size_ - 1) / batch_size_;
  auto first_batch_of = [&](int r) { return batches * r / world_size; };
  first_user_ = std::min(users, first_batch_of(rank) * batch_size_);
  end_user_ = std::min(users, first_batch_of(rank + 1) * batch_size_);
  for (int r = 0; r < world_size; ++r) {
    num_batches_ = std::max(num_batches_, first_batch_of(r + 1) - first_batch_of(r));
  }
  users_ = read(first_user_, end_user_);
}

EvalLoader::EvalLoader(const Dataset& dataset, EvalSplit split, int rank, int world_size, int batch_size,
                       int max_item_list_len)
    : split_(split), batch_size_(batch_size), max_item_list_len_(max_item_list_len) {
  take_share(dataset.num_users(), rank, world_size,
             [&](int64_t first, int64_t end) { return read_user_sequences(dataset, first, end); });
}

EvalLoader::EvalLoader(const std::vector<UserSequence>& users, EvalSplit split, int rank, int world_size,
                       int batch_size, int max_item_list_len)
    : split_(split), batch_size_(batch_size), max_item_list_len_(max_item_list_len) {
  for (const auto& user : users) {
    HLLM_CHECK(static_cast<int64_t>(user.items.size()) > items_after_history(split) &&
                   user.timestamps.size() == user.items.size(),
               "eval loader: user '", user.id, "' has ", user.items.size(), " items and ", user.timestamps.size(),
               " timestamps; the split needs more than ", items_after_history(split), " items");
  }
  take_share(static_cast<int64_t>(users.size()), rank, world_size, [&](int64_t first, int64_t end) {
    return std::vector<UserSequence>(users.begin() + first, users.begin() + end);
  });
}

EvalBatch EvalLoader::batch(int64_t index) const {
  HLLM_CHECK(index >= 0 && index < num_batches_, "eval batch ", index, " of ", num_batches_);
  EvalBatch out;
  out.index = index;
  out.rows = batch_size_;
  out.width = max_item_list_len_;
  out.users.assign(batch_size_, -1);
  out.items.assign(static_cast<size_t>(batch_size_) * max_item_list_len_, 0);
  out.mask.assign(out.items.size(), 0);
  out.timestamps.assign(out.items.size(), 0);
  out.target_timestamps.assign(batch_size_, 0);
  out.targets.assign(batch_size_, 0);
  out.history_offsets.assign(1, 0);
  const int drop = items_after_history(split_);
  for (int r = 0; r < batch_size_; ++r) {
    const int64_t local = index * batch_size_ + r;
    if (local < static_cast<int64_t>(users_.size())) {
      const auto& sequence = users_[local].items;
      const auto& times = users_[local].timestamps;
      const int64_t history = static_cast<int64_t>(sequence.size()) - drop;
      const int64_t shown = std::min<int64_t>(history, max_item_list_len_);
      for (int64_t k = 0; k < shown; ++k) {
        const size_t at = static_cast<size_t>(r) * max_item_list_len_ + (max_item_list_len_ - shown) + k;
        out.items[at] = sequence[history - shown + k];
        out.timestamps[at] = times[history - shown + k];
        out.mask[at] = 1;
      }
      out.users[r] = first_user_ + local;
      out.targets[r] = drop > 0 ? sequence[history] : 0;
      out.target_timestamps[r] = drop > 0 ? times[history] : times[history - 1];
      out.history_items.insert(out.history_items.end(), sequence.begin(), sequence.begin() + history);
      ++out.real_samples;
    }
    out.history_offsets.push_back(static_cast<int64_t>(out.history_items.size()));
  }
  return out;
}

}  // namespace hllm::data
