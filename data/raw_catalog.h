// RawCatalog: what every input reader produces, before filtering and id remapping. Ids are the source's
// own strings; text fields keep the source's key names and order.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace hllm::data {

struct RawItem {
  std::string id;
  std::vector<std::pair<std::string, std::string>> fields;  // (key, text), source order
};

struct RawInteraction {
  std::string user;
  std::string item;
  int64_t timestamp = 0;  // seconds
  int64_t order = 0;      // position in the source: breaks timestamp ties, so sorting is stable
};

struct RawCatalog {
  std::string source;                  // "hllm_csv", "recbole", "amazon2018", "synthetic"
  std::vector<std::string> text_keys;  // text fields the items file offers, in order
  std::vector<RawItem> items;
  std::vector<RawInteraction> interactions;
};

}  // namespace hllm::data
