#include "data/dataset_builder.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <set>
#include <unordered_map>

#include "common/error.h"

namespace hllm::data {
namespace {

bool is_integer(const std::string& s) {
  if (s.empty() || s.size() > 18) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Keeps interactions whose user and item counts (taken once on `rows`) meet the thresholds.
std::vector<RawInteraction> kcore_pass(const std::vector<RawInteraction>& rows, int min_user, int min_item) {
  std::unordered_map<std::string, int64_t> user_count, item_count;
  for (const auto& row : rows) {
    ++user_count[row.user];
    ++item_count[row.item];
  }
  std::vector<RawInteraction> kept;
  for (const auto& row : rows) {
    if (user_count[row.user] >= min_user && item_count[row.item] >= min_item) kept.push_back(row);
  }
  return kept;
}

}  // namespace

void sort_ids(std::vector<std::string>* ids) {
  const bool numeric = std::all_of(ids->begin(), ids->end(), is_integer);
  if (numeric) {
    std::sort(ids->begin(), ids->end(), [](const std::string& a, const std::string& b) {
      return std::stoll(a) < std::stoll(b) || (std::stoll(a) == std::stoll(b) && a < b);
    });
  } else {
    std::sort(ids->begin(), ids->end());
  }
}

bool in_hashed_share(const std::string& id, double fraction) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a, then splitmix64's finaliser
  for (unsigned char c : id) h = (h ^ c) * 1099511628211ull;
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
  h ^= h >> 31;
  return static_cast<double>(h >> 11) * 0x1.0p-53 < fraction;
}

std::string item_text(const RawItem& item, const std::vector<std::string>& text_keys) {
  std::string text;
  for (const auto& key : text_keys) {
    for (const auto& [field, value] : item.fields) {
      if (field == key && !value.empty()) text += (text.empty() ? "" : " ") + key + ": " + value;
    }
  }
  return text;
}

BuiltDataset build_dataset(const RawCatalog& catalog, const BuildOptions& options) {
  BuiltDataset out;
  BuildCounts& counts = out.counts;
  counts.input_interactions = static_cast<int64_t>(catalog.interactions.size());
  counts.input_items_with_metadata = static_cast<int64_t>(catalog.items.size());
  {
    std::set<std::string> users;
    for (const auto& row : catalog.interactions) users.insert(row.user);
    counts.input_users = static_cast<int64_t>(users.size());
  }

  out.text_keys = options.text_keys.empty() ? catalog.text_keys : options.text_keys;
  for (const auto& key : out.text_keys) {
    if (std::find(catalog.text_keys.begin(), catalog.text_keys.end(), key) == catalog.text_keys.end()) {
      std::string have;
      for (const auto& k : catalog.text_keys) have += (have.empty() ? "" : ", ") + k;
      throw InputError("--text_keys: the items have no text field '" + key + "' (they have: " + have + ")");
    }
  }

  std::unordered_map<std::string, const RawItem*> metadata;
  for (const auto& item : catalog.items) metadata[item.id] = &item;

  // 1. Interactions with items that have no metadata.
  std::vector<RawInteraction> rows;
  for (const auto& row : catalog.interactions) {
    const bool known = metadata.count(row.item) > 0;
    if (!known) ++counts.interactions_without_metadata;
    if (known || options.keep_items_without_metadata) rows.push_back(row);
  }

  // 2. k-core: HLLM's recipe (one pass on the counts of the unfiltered rows, then the users left short
  // dropped) or passes until nothing changes.
  if (options.min_user_inter > 0 || options.min_item_inter > 0) {
    const size_t before = rows.size();
    do {
      const size_t size = rows.size();
      rows = kcore_pass(rows, options.min_user_inter, options.min_item_inter);
      ++counts.kcore_rounds;
      if (rows.size() == size) break;
    } while (options.iterative_kcore);
    if (!options.iterative_kcore) rows = kcore_pass(rows, options.min_user_inter, 0);
    counts.interactions_removed_by_kcore = static_cast<int64_t>(before - rows.size());
  }

  // 3. Cold items, chosen on the filtered interactions: a hashed share, and/or first seen at or after a time.
  std::set<std::string> cold;
  const bool any_cold = options.cold_fraction > 0 || options.cold_after.has_value();
  if (any_cold) {
    std::unordered_map<std::string, int64_t> first_seen;
    for (const auto& row : rows) {
      const auto found = first_seen.find(row.item);
      if (found == first_seen.end() || row.timestamp < found->second) first_seen[row.item] = row.timestamp;
    }
    for (const auto& [item, time] : first_seen) {
      if (in_hashed_share(item, options.cold_fraction) || (options.cold_after && time >= *options.cold_after)) {
        cold.insert(item);
      }
    }
    if (cold.size() == first_seen.size()) {
      throw InputError("every item is cold (held out of training); lower --cold_items or move --cold_after later");
    }
  }

  // 4. Per-user sequences in time order (ties by source order); cold items taken out of each user's training
  // part; users too short for the split dropped.
  std::map<std::string, std::vector<const RawInteraction*>> by_user;
  for (const auto& row : rows) by_user[row.user].push_back(&row);
  std::set<std::string> item_set;
  for (auto it = by_user.begin(); it != by_user.end();) {
    auto& sequence = it->second;
    std::sort(sequence.begin(), sequence.end(), [](const RawInteraction* a, const RawInteraction* b) {
      return a->timestamp != b->timestamp ? a->timestamp < b->timestamp : a->order < b->order;
    });
    if (!cold.empty() && sequence.size() > 2) {
      const auto training_end = sequence.end() - 2;
      const auto kept = std::remove_if(sequence.begin(), training_end,
                                       [&](const RawInteraction* row) { return cold.count(row->item) > 0; });
      counts.interactions_removed_as_cold += training_end - kept;
      sequence.erase(kept, training_end);
    }
    if (static_cast<int>(sequence.size()) < kMinUserInteractions) {
      ++counts.users_too_short;
      it = by_user.erase(it);
      continue;
    }
    for (const auto* row : sequence) item_set.insert(row->item);
    ++it;
  }
  if (by_user.empty()) {
    throw InputError(detail::concat("no user is left after filtering (", counts.input_interactions,
                                    " interactions in; ", counts.interactions_removed_by_kcore,
                                    " removed by k-core, ", counts.interactions_removed_as_cold,
                                    " held out as cold, ", counts.users_too_short,
                                    " users with fewer than ", kMinUserInteractions,
                                    " interactions); lower --min_user_inter / --min_item_inter"));
  }

  // 5. Indices: items from 1 (0 is padding), users from 0, both in sorted id order.
  out.item_ids.assign(item_set.begin(), item_set.end());
  sort_ids(&out.item_ids);
  out.item_ids.insert(out.item_ids.begin(), "");
  std::unordered_map<std::string, int32_t> item_index;
  for (size_t i = 1; i < out.item_ids.size(); ++i) item_index[out.item_ids[i]] = static_cast<int32_t>(i);

  for (const auto& [user, unused] : by_user) out.user_ids.push_back(user);
  sort_ids(&out.user_ids);
  for (const auto& user : out.user_ids) {
    const auto& sequence = by_user[user];
    std::vector<int32_t> items;
    std::vector<int64_t> times;
    for (const auto* row : sequence) {
      items.push_back(item_index.at(row->item));
      times.push_back(row->timestamp);
    }
    counts.interactions += static_cast<int64_t>(items.size());
    out.user_items.push_back(std::move(items));
    out.user_timestamps.push_back(std::move(times));
  }
  counts.users = static_cast<int64_t>(out.user_ids.size());
  counts.items = static_cast<int64_t>(out.item_ids.size()) - 1;
  if (any_cold) {
    out.item_cold.assign(out.item_ids.size(), 0);
    for (size_t i = 1; i < out.item_ids.size(); ++i) out.item_cold[i] = cold.count(out.item_ids[i]) ? 1 : 0;
    counts.cold_items = std::count(out.item_cold.begin(), out.item_cold.end(), 1);
    if (counts.cold_items == counts.items) {  // the warm items were nobody's: no training left
      throw InputError("every item left is cold (held out of training); lower --cold_items or move --cold_after later");
    }
  }

  // 6. Item texts: "key: value" for each selected key with a value, in key order.
  out.item_texts.assign(out.item_ids.size(), "");
  for (size_t i = 1; i < out.item_ids.size(); ++i) {
    const auto found = metadata.find(out.item_ids[i]);
    if (found == metadata.end()) continue;  // kept without metadata: empty text
    out.item_texts[i] = item_text(*found->second, out.text_keys);
    if (out.item_texts[i].empty()) ++counts.items_with_empty_text;
  }
  if (counts.items_with_empty_text > 0 && !options.allow_empty_text) {
    std::string keys;
    for (const auto& k : out.text_keys) keys += (keys.empty() ? "" : ",") + k;
    std::string example;
    for (size_t i = 1; i < out.item_ids.size() && example.empty(); ++i) {
      if (out.item_texts[i].empty() && metadata.count(out.item_ids[i])) example = out.item_ids[i];
    }
    throw InputError(detail::concat(counts.items_with_empty_text, " item(s) have no text under --text_keys ", keys,
                                    " (the first is '", example,
                                    "'); choose other --text_keys, or pass --allow_empty_text to keep them"));
  }
  return out;
}

}  // namespace hllm::data
