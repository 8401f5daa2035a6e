#include "data/training_windows.h"

#include <algorithm>
#include <numeric>

#include "common/error.h"

namespace hllm::data {

uint64_t mix_hash(uint64_t seed, uint64_t a, uint64_t b, uint64_t c) {
  uint64_t h = seed ^ 0x9E3779B97F4A7C15ull;
  for (const uint64_t v : {a, b, c}) {
    h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
    h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ull;
    h = (h ^ (h >> 27)) * 0x94D049BB133111EBull;
    h ^= h >> 31;
  }
  return h;
}

int64_t windows_of(int64_t train_length, int max_item_list_len) {
  if (train_length < 2) return 0;  // no transition to predict
  return (train_length - 1 + max_item_list_len - 1) / max_item_list_len;
}

TrainingWindows::TrainingWindows(const std::vector<int64_t>& user_lengths, int max_item_list_len)
    : user_lengths_(user_lengths), max_item_list_len_(max_item_list_len) {
  HLLM_CHECK(max_item_list_len >= 1, "max_item_list_len must be positive, got ", max_item_list_len);
  first_window_.assign(user_lengths.size() + 1, 0);
  for (size_t u = 0; u < user_lengths.size(); ++u) {
    first_window_[u + 1] = first_window_[u] + windows_of(user_lengths[u] - 2, max_item_list_len);
  }
}

Window TrainingWindows::window(int64_t index) const {
  HLLM_ASSERT(index >= 0 && index < size(), "window ", index, " of ", size());
  const auto it = std::upper_bound(first_window_.begin(), first_window_.end(), index);
  const int64_t user = static_cast<int64_t>(it - first_window_.begin()) - 1;
  const int64_t train_length = user_lengths_[user] - 2;
  const int64_t count = first_window_[user + 1] - first_window_[user];
  const int64_t from_end = count - 1 - (index - first_window_[user]);  // 0 = the newest window
  const int64_t end = train_length - from_end * max_item_list_len_;
  const int64_t begin = std::max<int64_t>(0, end - max_item_list_len_ - 1);
  return Window{user, begin, end};
}

std::pair<int64_t, int64_t> TrainingWindows::rank_range(int64_t total, int rank, int dp) {
  HLLM_CHECK(dp >= 1 && rank >= 0 && rank < dp, "rank ", rank, " of ", dp, " data-parallel ranks");
  return {total * rank / dp, total * (rank + 1) / dp};
}

std::vector<int64_t> epoch_order(int64_t range_size, int64_t shuffle_block, uint64_t seed, int64_t epoch, int rank) {
  HLLM_CHECK(shuffle_block >= 1, "shuffle block must be positive, got ", shuffle_block);
  const int64_t blocks = (range_size + shuffle_block - 1) / shuffle_block;
  // Fisher-Yates with the counter-based hash: the same (seed, epoch, rank) gives the same order anywhere.
  auto shuffle = [&](std::vector<int64_t>& v, uint64_t stream) {
    for (int64_t i = static_cast<int64_t>(v.size()) - 1; i > 0; --i) {
      const int64_t j = static_cast<int64_t>(mix_hash(seed, stream, static_cast<uint64_t>(epoch) * 1000003u + rank, i) %
                                             static_cast<uint64_t>(i + 1));
      std::swap(v[i], v[j]);
    }
  };
  std::vector<int64_t> block_order(blocks);
  std::iota(block_order.begin(), block_order.end(), 0);
  shuffle(block_order, 0);
  std::vector<int64_t> order;
  order.reserve(range_size);
  for (const int64_t b : block_order) {
    std::vector<int64_t> inside;
    for (int64_t i = b * shuffle_block; i < std::min(range_size, (b + 1) * shuffle_block); ++i) inside.push_back(i);
    shuffle(inside, 1 + static_cast<uint64_t>(b));
    order.insert(order.end(), inside.begin(), inside.end());
  }
  return order;
}

}  // namespace hllm::data
