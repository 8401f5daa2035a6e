// RawCatalog: what every input reader produces, before filtering and id remapping. Ids are the source's
// own strings, each held once (NameTable); text fields keep the source's key names and order.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "data/name_table.h"

namespace hllm::data {

struct RawItem {
  std::string id;
  std::vector<std::pair<std::string, std::string>> fields;  // (key, text), source order
};

// One interaction, its user and item as numbers in the catalog's name tables. Its position in
// `interactions` is its position in the source, which breaks timestamp ties.
struct RawInteraction {
  int32_t user;
  int32_t item;
  int64_t timestamp;  // seconds
};

struct RawCatalog {
  std::string source;                  // "hllm_csv", "recbole", "amazon2018", "synthetic"
  std::vector<std::string> text_keys;  // text fields the items file offers, in order
  std::vector<RawItem> items;          // the items file (metadata)
  NameTable users;                     // the interactions' user ids
  NameTable interacted_items;          // the interactions' item ids
  std::vector<RawInteraction> interactions;

  void add_interaction(std::string_view user, std::string_view item, int64_t timestamp) {
    // Sources usually list a user's interactions together: the user of the row before is checked first.
    const bool same_user = !interactions.empty() && users.name(interactions.back().user) == user;
    const int32_t user_number = same_user ? interactions.back().user : users.intern(user);
    interactions.push_back({user_number, interacted_items.intern(item), timestamp});
  }
  std::string_view user_of(const RawInteraction& row) const { return users.name(row.user); }
  std::string_view item_of(const RawInteraction& row) const { return interacted_items.name(row.item); }
};

}  // namespace hllm::data
