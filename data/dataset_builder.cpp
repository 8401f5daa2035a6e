#include "data/dataset_builder.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "common/error.h"

namespace hllm::data {
namespace {

bool is_integer(const std::string& s) {
  if (s.empty() || s.size() > 18) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Keeps the rows whose user and item counts (taken once on `rows`) meet the thresholds, in place and in order.
void kcore_pass(std::vector<RawInteraction>* rows, size_t users, size_t items, int min_user, int min_item) {
  std::vector<int64_t> user_count(users, 0), item_count(items, 0);
  for (const RawInteraction& row : *rows) {
    ++user_count[row.user];
    ++item_count[row.item];
  }
  rows->erase(std::remove_if(rows->begin(), rows->end(),
                             [&](const RawInteraction& row) {
                               return user_count[row.user] < min_user || item_count[row.item] < min_item;
                             }),
              rows->end());
}

}  // namespace

void sort_ids(std::vector<std::string>* ids) {
  const bool numeric = std::all_of(ids->begin(), ids->end(), is_integer);
  if (!numeric) {
    std::sort(ids->begin(), ids->end());
    return;
  }
  // By value, ties (leading zeros) by text; each id parsed once.
  std::vector<std::pair<int64_t, std::string>> keyed;
  keyed.reserve(ids->size());
  for (auto& id : *ids) keyed.emplace_back(std::stoll(id), std::move(id));
  std::sort(keyed.begin(), keyed.end());
  for (size_t i = 0; i < keyed.size(); ++i) (*ids)[i] = std::move(keyed[i].second);
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

BuiltDataset build_dataset(RawCatalog catalog, const BuildOptions& options, ProgressMeter* progress) {
  BuiltDataset out;
  BuildCounts& counts = out.counts;
  counts.input_interactions = static_cast<int64_t>(catalog.interactions.size());
  counts.input_items_with_metadata = static_cast<int64_t>(catalog.items.size());
  counts.input_users = static_cast<int64_t>(catalog.users.size());

  out.text_keys = options.text_keys.empty() ? catalog.text_keys : options.text_keys;
  for (const auto& key : out.text_keys) {
    if (std::find(catalog.text_keys.begin(), catalog.text_keys.end(), key) == catalog.text_keys.end()) {
      std::string have;
      for (const auto& k : catalog.text_keys) have += (have.empty() ? "" : ", ") + k;
      throw InputError("--text_keys: the items have no text field '" + key + "' (they have: " + have + ")");
    }
  }

  // The rows are filtered in place (each step keeps the rest in source order), so the interactions are
  // held once whatever the step.
  std::vector<RawInteraction>& rows = catalog.interactions;
  const NameTable& users = catalog.users;
  const NameTable& items = catalog.interacted_items;
  std::vector<RawItem*> metadata(items.size(), nullptr);  // by item number
  for (auto& item : catalog.items) {
    const int32_t number = items.find(item.id);
    if (number >= 0) metadata[static_cast<size_t>(number)] = &item;
  }

  // 1. Interactions with items that have no metadata.
  const auto without_metadata = [&](const RawInteraction& row) { return metadata[row.item] == nullptr; };
  counts.interactions_without_metadata = std::count_if(rows.begin(), rows.end(), without_metadata);
  if (!options.keep_items_without_metadata) {
    rows.erase(std::remove_if(rows.begin(), rows.end(), without_metadata), rows.end());
  }
  if (progress) progress->advance(counts.input_interactions - static_cast<int64_t>(rows.size()));

  // 2. k-core: HLLM's recipe (one pass on the counts of the unfiltered rows, then the users left short
  // dropped) or passes until nothing changes.
  if (options.min_user_inter > 0 || options.min_item_inter > 0) {
    const size_t before = rows.size();
    do {
      const size_t size = rows.size();
      kcore_pass(&rows, users.size(), items.size(), options.min_user_inter, options.min_item_inter);
      ++counts.kcore_rounds;
      if (rows.size() == size) break;
    } while (options.iterative_kcore);
    if (!options.iterative_kcore) kcore_pass(&rows, users.size(), items.size(), options.min_user_inter, 0);
    counts.interactions_removed_by_kcore = static_cast<int64_t>(before - rows.size());
    if (progress) progress->advance(counts.interactions_removed_by_kcore);
  }

  // 3. Cold items, chosen on the filtered interactions: a hashed share, and/or first seen at or after a time.
  std::vector<uint8_t> cold(items.size(), 0);
  const bool any_cold = options.cold_fraction > 0 || options.cold_after.has_value();
  if (any_cold) {
    constexpr int64_t kUnseen = std::numeric_limits<int64_t>::max();
    std::vector<int64_t> first_seen(items.size(), kUnseen);
    for (const RawInteraction& row : rows) first_seen[row.item] = std::min(first_seen[row.item], row.timestamp);
    size_t seen = 0, cold_count = 0;
    for (size_t i = 0; i < items.size(); ++i) {
      if (first_seen[i] == kUnseen) continue;
      ++seen;
      if (in_hashed_share(std::string(items.name(static_cast<int32_t>(i))), options.cold_fraction) ||
          (options.cold_after && first_seen[i] >= *options.cold_after)) {
        cold[i] = 1;
        ++cold_count;
      }
    }
    if (cold_count == seen) {
      throw InputError("every item is cold (held out of training); lower --cold_items or move --cold_after later");
    }
  }

  // 4. Per-user sequences in time order (ties by source order); cold items taken out of each user's training
  // part; users too short for the split dropped. The rows are grouped by user as one array of row numbers
  // (a counting sort keeps each user's rows in source order), user u's at [first[u], first[u + 1]).
  std::vector<int64_t> first(users.size() + 1, 0);
  for (const RawInteraction& row : rows) ++first[static_cast<size_t>(row.user) + 1];
  for (size_t u = 0; u < users.size(); ++u) first[u + 1] += first[u];
  std::vector<int32_t> by_user(rows.size());
  {
    std::vector<int64_t> next(first.begin(), first.end() - 1);
    for (size_t r = 0; r < rows.size(); ++r) {
      by_user[static_cast<size_t>(next[rows[r].user]++)] = static_cast<int32_t>(r);
    }
  }
  std::vector<int64_t> kept_length(users.size(), 0);  // a user's sequence after cold removal; 0 = dropped
  std::vector<uint8_t> item_kept(items.size(), 0);
  std::vector<std::string> user_ids;
  for (size_t u = 0; u < users.size(); ++u) {
    const auto begin = by_user.begin() + first[u], end = by_user.begin() + first[u + 1];
    if (begin == end) continue;  // every row of the user filtered out
    if (progress) progress->advance(end - begin);
    std::stable_sort(begin, end, [&](int32_t a, int32_t b) { return rows[a].timestamp < rows[b].timestamp; });
    auto kept_end = end;
    if (any_cold && end - begin > 2) {
      const auto training_end = end - 2;
      const auto kept = std::remove_if(begin, training_end, [&](int32_t r) { return cold[rows[r].item] != 0; });
      counts.interactions_removed_as_cold += training_end - kept;
      kept_end = std::move(training_end, end, kept);
    }
    if (kept_end - begin < kMinUserInteractions) {
      ++counts.users_too_short;
      continue;
    }
    kept_length[u] = kept_end - begin;
    for (auto r = begin; r != kept_end; ++r) item_kept[rows[*r].item] = 1;
    user_ids.emplace_back(users.name(static_cast<int32_t>(u)));
  }
  if (user_ids.empty()) {
    throw InputError(detail::concat("no user is left after filtering (", counts.input_interactions,
                                    " interactions in; ", counts.interactions_removed_by_kcore,
                                    " removed by k-core, ", counts.interactions_removed_as_cold,
                                    " held out as cold, ", counts.users_too_short,
                                    " users with fewer than ", kMinUserInteractions,
                                    " interactions); lower --min_user_inter / --min_item_inter"));
  }

  // 5. Indices: items from 1 (0 is padding), users from 0, both in sorted id order.
  for (size_t i = 0; i < items.size(); ++i) {
    if (item_kept[i]) out.item_ids.emplace_back(items.name(static_cast<int32_t>(i)));
  }
  sort_ids(&out.item_ids);
  out.item_ids.insert(out.item_ids.begin(), "");
  std::vector<int32_t> item_number(out.item_ids.size(), -1);  // dataset index -> catalog number
  std::vector<int32_t> item_index(items.size(), 0);           // catalog number -> dataset index
  for (size_t i = 1; i < out.item_ids.size(); ++i) {
    item_number[i] = items.find(out.item_ids[i]);
    item_index[static_cast<size_t>(item_number[i])] = static_cast<int32_t>(i);
  }

  out.user_ids = std::move(user_ids);
  sort_ids(&out.user_ids);
  out.user_items.reserve(out.user_ids.size());
  out.user_timestamps.reserve(out.user_ids.size());
  for (const auto& user : out.user_ids) {
    const auto u = static_cast<size_t>(users.find(user));
    const auto begin = by_user.begin() + first[u], end = begin + kept_length[u];
    std::vector<int32_t> user_items;
    std::vector<int64_t> times;
    user_items.reserve(static_cast<size_t>(kept_length[u]));
    times.reserve(static_cast<size_t>(kept_length[u]));
    for (auto r = begin; r != end; ++r) {
      user_items.push_back(item_index[rows[*r].item]);
      times.push_back(rows[*r].timestamp);
    }
    counts.interactions += static_cast<int64_t>(user_items.size());
    out.user_items.push_back(std::move(user_items));
    out.user_timestamps.push_back(std::move(times));
  }
  rows = {};
  by_user = {};
  counts.users = static_cast<int64_t>(out.user_ids.size());
  counts.items = static_cast<int64_t>(out.item_ids.size()) - 1;
  if (any_cold) {
    out.item_cold.assign(out.item_ids.size(), 0);
    for (size_t i = 1; i < out.item_ids.size(); ++i) out.item_cold[i] = cold[static_cast<size_t>(item_number[i])];
    counts.cold_items = std::count(out.item_cold.begin(), out.item_cold.end(), 1);
    if (counts.cold_items == counts.items) {  // the warm items were nobody's: no training left
      throw InputError("every item left is cold (held out of training); lower --cold_items or move --cold_after later");
    }
  }

  // 6. Item texts: "key: value" for each selected key with a value, in key order. Each item's fields are
  // released once its text is made, so the texts are not held twice.
  out.item_texts.assign(out.item_ids.size(), "");
  std::string example;  // the first item with metadata but no text
  for (size_t i = 1; i < out.item_ids.size(); ++i) {
    RawItem* item = metadata[static_cast<size_t>(item_number[i])];
    if (item == nullptr) continue;  // kept without metadata: empty text
    out.item_texts[i] = item_text(*item, out.text_keys);
    item->fields = {};
    if (out.item_texts[i].empty()) {
      ++counts.items_with_empty_text;
      if (example.empty()) example = out.item_ids[i];
    }
  }
  if (counts.items_with_empty_text > 0 && !options.allow_empty_text) {
    std::string keys;
    for (const auto& k : out.text_keys) keys += (keys.empty() ? "" : ",") + k;
    throw InputError(detail::concat(counts.items_with_empty_text, " item(s) have no text under --text_keys ", keys,
                                    " (the first is '", example,
                                    "'); choose other --text_keys, or pass --allow_empty_text to keep them"));
  }
  return out;
}

}  // namespace hllm::data
