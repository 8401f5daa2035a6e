// Building a dataset from a RawCatalog: missing-metadata policy, k-core filtering, dropping users too
// short for the leave-one-out split, id remapping (item 0 is padding), per-user time order and item texts.
// Pure: no files, no tokenizer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/progress_meter.h"
#include "data/raw_catalog.h"

namespace hllm::data {

struct BuildOptions {
  std::vector<std::string> text_keys;  // empty = every text field of the source, in its order
  int min_user_inter = 0;              // k-core thresholds; 0 = no filter
  int min_item_inter = 0;
  // false: HLLM's recipe (its process_books.py): rows whose user and item counts, taken once on the unfiltered
  // rows, meet the thresholds; then the users left with fewer than min_user_inter rows dropped (once).
  // true: passes until nothing changes (every user and item meets its threshold).
  bool iterative_kcore = false;
  bool keep_items_without_metadata = false;  // false: drop their interactions; true: keep them, empty text
  bool allow_empty_text = false;  // false: an item whose metadata has no text under text_keys is an error
  // Cold items (held out of training, to measure recommending items no one has interacted with): a share of
  // the items chosen by a hash of their id, and/or the items first seen at or after a time (seconds). Their
  // interactions are removed from every user's training part (all but the last two items), so they appear
  // only as valid or test targets (and, for test, as the valid item in the input).
  double cold_fraction = 0;
  std::optional<int64_t> cold_after;
};

// What each step kept and removed; written to meta.json.
struct BuildCounts {
  int64_t input_interactions = 0;
  int64_t input_users = 0;
  int64_t input_items_with_metadata = 0;
  int64_t interactions_without_metadata = 0;  // dropped, or kept with empty text (the policy says which)
  int64_t interactions_removed_by_kcore = 0;
  int kcore_rounds = 0;
  int64_t users_too_short = 0;  // fewer than 3 interactions: no train/valid/test split possible
  int64_t items_with_empty_text = 0;  // metadata present, but nothing under the text keys
  int64_t cold_items = 0;  // held out of training (BuildOptions::cold_*), among the items kept
  int64_t interactions_removed_as_cold = 0;  // their interactions in users' training parts
  int64_t users = 0;
  int64_t items = 0;  // excluding the padding item
  int64_t interactions = 0;
};

struct BuiltDataset {
  std::vector<std::string> text_keys;
  std::vector<std::string> item_ids;    // [items + 1], item_ids[0] = "" (padding)
  std::vector<std::string> item_texts;  // [items + 1], "key: value key: value"
  std::vector<std::string> user_ids;
  std::vector<std::vector<int32_t>> user_items;       // per user, item indices in time order
  std::vector<std::vector<int64_t>> user_timestamps;  // aligned with user_items
  std::vector<uint8_t> item_cold;  // [items + 1], 1 for a cold item; empty when none was asked for
  BuildCounts counts;
};

// Minimum interactions per user for the leave-one-out split (train on [:-2], valid [-2], test [-1]).
constexpr int kMinUserInteractions = 3;

// An item's text as the dataset stores it: "key: value" for each of `text_keys` the item has a value for,
// in key order, joined by spaces.
std::string item_text(const RawItem& item, const std::vector<std::string>& text_keys);

// Whether item `id` falls in the hashed share `fraction` of items (the same answer on any machine).
bool in_hashed_share(const std::string& id, double fraction);

// Throws InputError for an unknown text key, an item with empty text (unless allowed), or when nothing is
// left after filtering. Takes the catalog (move it in: its rows are filtered in place and its texts become
// the dataset's); `progress` (optional) counts the input's interactions as they are filtered and grouped.
BuiltDataset build_dataset(RawCatalog catalog, const BuildOptions& options, ProgressMeter* progress = nullptr);

// Sorts ids as numbers when every id is an integer, else as strings; the order items and users get indices.
void sort_ids(std::vector<std::string>* ids);

}  // namespace hllm::data
