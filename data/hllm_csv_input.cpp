#include <algorithm>
#include <map>

#include "common/error.h"
#include "data/csv_reader.h"
#include "data/input_formats.h"

namespace hllm::data {
namespace {

// Column index of `name` in `header`, or an error naming the file and the columns it has.
size_t column(const std::vector<std::string>& header, const std::string& name, const std::string& path) {
  const auto it = std::find(header.begin(), header.end(), name);
  if (it == header.end()) {
    std::string have;
    for (const auto& h : header) have += (have.empty() ? "" : ",") + h;
    throw InputError(path + ":1: missing column '" + name + "' (the header has: " + have + ")");
  }
  return static_cast<size_t>(it - header.begin());
}

std::string where(const CsvReader& reader) { return reader.path() + ":" + std::to_string(reader.line()); }

}  // namespace

RawCatalog read_hllm_csv(const std::string& interactions_path, const std::string& items_path) {
  RawCatalog catalog;
  catalog.source = "hllm_csv";
  std::vector<std::string> fields;

  CsvReader interactions(interactions_path);
  if (!interactions.next(&fields)) throw InputError(interactions_path + ": empty file (expected a header)");
  const auto header = fields;
  const size_t item_col = column(header, "item_id", interactions_path);
  const size_t user_col = column(header, "user_id", interactions_path);
  const size_t time_col = column(header, "timestamp", interactions_path);
  while (interactions.next(&fields)) {
    if (fields.size() != header.size()) {
      throw InputError(where(interactions) + ": " + std::to_string(fields.size()) + " fields, the header has " +
                       std::to_string(header.size()));
    }
    RawInteraction row;
    row.item = fields[item_col];
    row.user = fields[user_col];
    if (row.item.empty() || row.user.empty()) throw InputError(where(interactions) + ": empty item_id or user_id");
    row.timestamp = parse_timestamp(fields[time_col], where(interactions));
    row.order = static_cast<int64_t>(catalog.interactions.size());
    catalog.interactions.push_back(std::move(row));
  }

  CsvReader items(items_path);
  if (!items.next(&fields)) throw InputError(items_path + ": empty file (expected a header)");
  const auto item_header = fields;
  const size_t id_col = column(item_header, "item_id", items_path);
  for (size_t c = 0; c < item_header.size(); ++c) {
    if (c != id_col) catalog.text_keys.push_back(item_header[c]);
  }
  std::map<std::string, int> first_line;
  while (items.next(&fields)) {
    if (fields.size() != item_header.size()) {
      throw InputError(where(items) + ": " + std::to_string(fields.size()) + " fields, the header has " +
                       std::to_string(item_header.size()));
    }
    RawItem item;
    item.id = fields[id_col];
    if (item.id.empty()) throw InputError(where(items) + ": empty item_id");
    const auto [it, inserted] = first_line.emplace(item.id, items.line());
    if (!inserted) {
      throw InputError(where(items) + ": duplicate item_id '" + item.id + "' (first on line " +
                       std::to_string(it->second) + ")");
    }
    for (size_t c = 0; c < item_header.size(); ++c) {
      if (c != id_col) item.fields.emplace_back(item_header[c], fields[c]);
    }
    catalog.items.push_back(std::move(item));
  }
  return catalog;
}

}  // namespace hllm::data
