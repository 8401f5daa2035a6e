// Reading a contiguous range of users' sequences from the shard files, by hyperslab (only the shards
// the range touches, only the rows it needs).
#pragma once

#include <cstdint>
#include <vector>

#include "data/dataset.h"

namespace hllm::data {

// Ids, items and timestamps of users [first, end), items in time order; element i is user first + i.
std::vector<UserSequence> read_user_sequences(const Dataset& dataset, int64_t first, int64_t end);

// Every user's full sequence length, from the shards' offsets only.
std::vector<int64_t> read_user_lengths(const Dataset& dataset);

}  // namespace hllm::data
