// TrainingWindows: the pure arithmetic of which training samples exist, which rank reads which, and in
// what order an epoch visits them. No files, no randomness beyond a seeded counter-based hash, so the
// position inside an epoch is all a checkpoint needs to resume exactly.
//
// A user's training items are all but the last two (leave-one-out). The User LLM predicts every next
// item, so a window of S + 1 items yields S predictions; windows are cut from the end of the training
// items backwards, consecutive windows overlapping by one item, so every transition (item i -> i + 1) is
// in exactly one window. The oldest window may be shorter and is left-padded.
//
//   train items:  a b c d e f g      S = 3:  windows [d e f g], [a b c d]
//
// Windows are numbered in storage order (user order, then oldest window first). Data-parallel rank r of
// dp reads the contiguous range [r W / dp, (r + 1) W / dp) of the W windows. An epoch visits a rank's range
// in blocks of `shuffle_block` windows: the block order and the order inside each block are permuted by
// (seed, epoch, rank).
#pragma once

#include <cstdint>
#include <vector>

namespace hllm::data {

struct Window {
  int64_t user = 0;   // global user index
  int64_t begin = 0;  // first item of the window in the user's full sequence
  int64_t end = 0;    // one past the last item (end - begin <= S + 1)
};

class TrainingWindows {
 public:
  // user_lengths: every user's full sequence length (including valid and test items).
  TrainingWindows(const std::vector<int64_t>& user_lengths, int max_item_list_len);

  int64_t size() const { return static_cast<int64_t>(first_window_.back()); }
  Window window(int64_t index) const;  // 0 <= index < size()
  int max_item_list_len() const { return max_item_list_len_; }

  // [first, end) of rank `rank` of `dp`; ranges differ in size by at most one.
  static std::pair<int64_t, int64_t> rank_range(int64_t total, int rank, int dp);

 private:
  std::vector<int64_t> user_lengths_;
  std::vector<int64_t> first_window_;  // [users + 1] prefix sums of windows per user
  int max_item_list_len_;
};

// Windows of a training sequence of `train_length` items with window size S + 1.
int64_t windows_of(int64_t train_length, int max_item_list_len);

// Offsets (relative to the rank's range) in the order epoch `epoch` visits them.
std::vector<int64_t> epoch_order(int64_t range_size, int64_t shuffle_block, uint64_t seed, int64_t epoch, int rank);

// A well-mixed 64-bit hash of (seed, a, b, c): the counter-based randomness of the loader.
uint64_t mix_hash(uint64_t seed, uint64_t a, uint64_t b = 0, uint64_t c = 0);

}  // namespace hllm::data
