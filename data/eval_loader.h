// EvalLoader: the users of the valid or test split, as batches for full-ranking evaluation (DESIGN.md,
// "Evaluation"). Users are cut into global batches of batch_size, the same for any world size (so metrics
// do not depend on it), and each rank takes a contiguous run of them; every rank gets the same number of
// batches (short ranks get filler batches), because under ZeRO-3 every rank must run the same forwards.
//
//   valid: history = items[:-2], target = items[-2]
//   test:  history = items[:-1] (it includes the valid target), target = items[-1]
//   all:   history = items (serving: what to recommend next), no target (0); target_timestamps = the last
//          history item's time
// The model reads the last S history items; ranking masks the target's whole history (history_items).
#pragma once

#include <cstdint>
#include <vector>

#include "data/dataset.h"
#include "data/eval_batch.h"

namespace hllm::data {

enum class EvalSplit { kValid, kTest, kAll };

class EvalLoader {
 public:
  EvalLoader(const Dataset& dataset, EvalSplit split, int rank, int world_size, int batch_size,
             int max_item_list_len);
  // The same over histories given in memory (users of a file: hllm_recommend --users), cut alike; under
  // kValid / kTest a user needs at least 2 / 1 items beyond an empty history, under kAll at least one.
  EvalLoader(const std::vector<UserSequence>& users, EvalSplit split, int rank, int world_size, int batch_size,
             int max_item_list_len);

  int64_t num_batches() const { return num_batches_; }  // the same on every rank
  std::pair<int64_t, int64_t> user_range() const { return {first_user_, end_user_}; }
  EvalBatch batch(int64_t index) const;
  // The user of a batch's row as stored (row r of batch b is user user_range().first + b * batch_size + r).
  const UserSequence& user(int64_t local) const { return users_.at(static_cast<size_t>(local)); }

 private:
  // Takes this rank's contiguous run of the global batches of `users` users; reads them with read(first, end).
  template <typename ReadUsers>
  void take_share(int64_t users, int rank, int world_size, const ReadUsers& read);

  EvalSplit split_;
  int batch_size_;
  int max_item_list_len_;
  int64_t first_user_ = 0;
  int64_t end_user_ = 0;
  int64_t num_batches_ = 0;
  std::vector<UserSequence> users_;
};

}  // namespace hllm::data
