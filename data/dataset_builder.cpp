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

  // 2. k-core: one pass (HLLM's rule) or until nothing changes.
  if (options.min_user_inter > 0 || options.min_item_inter > 0) {
    const size_t before = rows.size();
    do {
      const size_t size = rows.size();
      rows = kcore_pass(rows, options.min_user_inter, options.min_item_inter);
      ++counts.kcore_rounds;
      if (rows.size() == size) break;
    } while (options.iterative_kcore);
    counts.interactions_removed_by_kcore = static_cast<int64_t>(before - rows.size());
  }

  // 3. Per-user sequences in time order (ties by source order), users too short for the split dropped.
  std::map<std::string, std::vector<const RawInteraction*>> by_user;
  for (const auto& row : rows) by_user[row.user].push_back(&row);
  std::set<std::string> item_set;
  for (auto it = by_user.begin(); it != by_user.end();) {
    if (static_cast<int>(it->second.size()) < kMinUserInteractions) {
      ++counts.users_too_short;
      it = by_user.erase(it);
      continue;
    }
    for (const auto* row : it->second) item_set.insert(row->item);
    ++it;
  }
  if (by_user.empty()) {
    throw InputError(detail::concat("no user is left after filtering (", counts.input_interactions,
                                    " interactions in; ", counts.interactions_removed_by_kcore,
                                    " removed by k-core, ", counts.users_too_short,
                                    " users with fewer than ", kMinUserInteractions,
                                    " interactions); lower --min_user_inter / --min_item_inter"));
  }

  // 4. Indices: items from 1 (0 is padding), users from 0, both in sorted id order.
  out.item_ids.assign(item_set.begin(), item_set.end());
  sort_ids(&out.item_ids);
  out.item_ids.insert(out.item_ids.begin(), "");
  std::unordered_map<std::string, int32_t> item_index;
  for (size_t i = 1; i < out.item_ids.size(); ++i) item_index[out.item_ids[i]] = static_cast<int32_t>(i);

  for (const auto& [user, unused] : by_user) out.user_ids.push_back(user);
  sort_ids(&out.user_ids);
  for (const auto& user : out.user_ids) {
    auto sequence = by_user[user];
    std::sort(sequence.begin(), sequence.end(), [](const RawInteraction* a, const RawInteraction* b) {
      return a->timestamp != b->timestamp ? a->timestamp < b->timestamp : a->order < b->order;
    });
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

  // 5. Item texts: "key: value" for each selected key with a value, in key order.
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
