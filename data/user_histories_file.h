// Users given by their histories in a file, for hllm_recommend --users: JSON lines, one user each,
//   {"user": "<external id>", "items": ["<external item id>", ...], "timestamps": [<seconds>, ...]}
// items in time order (oldest first); timestamps are optional (HSTU reads them; 0 when absent). Items are
// external ids of the run's dataset or of new items embedded by hllm_embed.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "data/dataset.h"

namespace hllm::data {

// `row_of_item` maps an external item id to its row of the item table. Throws InputError naming the file
// and line: not JSON (or nested deeper than common/json_input.h allows), a missing or mistyped key, an empty
// history, an item id the table does not hold, timestamps that do not match the items, lie outside ±2^53
// or go backwards.
std::vector<UserSequence> read_user_histories(const std::string& path,
                                              const std::unordered_map<std::string, int64_t>& row_of_item);

}  // namespace hllm::data
