#include "data/delimited_tables.h"

#include <algorithm>
#include <unordered_map>

#include "common/error.h"
#include "data/input_formats.h"

namespace hllm::data {
namespace {

std::string where(const CsvReader& reader) { return reader.path() + ":" + std::to_string(reader.line()); }

void check_width(const CsvReader& reader, const std::vector<std::string>& fields, size_t width) {
  if (fields.size() != width) {
    throw InputError(where(reader) + ": " + std::to_string(fields.size()) + " fields, the header has " +
                     std::to_string(width));
  }
}

}  // namespace

size_t header_column(const std::vector<std::string>& header, const std::string& name, const std::string& path) {
  const auto it = std::find(header.begin(), header.end(), name);
  if (it == header.end()) {
    std::string have;
    for (const auto& h : header) have += (have.empty() ? "" : ",") + h;
    throw InputError(path + ":1: missing column '" + name + "' (the header has: " + have + ")");
  }
  return static_cast<size_t>(it - header.begin());
}

void read_interaction_rows(CsvReader& reader, const std::vector<std::string>& header, RawCatalog* catalog) {
  const size_t item_col = header_column(header, "item_id", reader.path());
  const size_t user_col = header_column(header, "user_id", reader.path());
  const size_t time_col = header_column(header, "timestamp", reader.path());
  std::vector<std::string> fields;
  while (reader.next(&fields)) {
    check_width(reader, fields, header.size());
    const std::string& item = fields[item_col];
    const std::string& user = fields[user_col];
    if (item.empty() || user.empty()) throw InputError(where(reader) + ": empty item_id or user_id");
    catalog->add_interaction(user, item, parse_timestamp(fields[time_col], where(reader)));
  }
}

void read_item_rows(CsvReader& reader, const std::vector<std::string>& header, RawCatalog* catalog) {
  const size_t id_col = header_column(header, "item_id", reader.path());
  for (size_t c = 0; c < header.size(); ++c) {
    if (c != id_col) catalog->text_keys.push_back(header[c]);
  }
  std::unordered_map<std::string, int> first_line;
  std::vector<std::string> fields;
  while (reader.next(&fields)) {
    check_width(reader, fields, header.size());
    RawItem item;
    item.id = fields[id_col];
    if (item.id.empty()) throw InputError(where(reader) + ": empty item_id");
    const auto [it, inserted] = first_line.emplace(item.id, reader.line());
    if (!inserted) {
      throw InputError(where(reader) + ": duplicate item_id '" + item.id + "' (first on line " +
                       std::to_string(it->second) + ")");
    }
    for (size_t c = 0; c < header.size(); ++c) {
      if (c != id_col) item.fields.emplace_back(header[c], fields[c]);
    }
    catalog->items.push_back(std::move(item));
  }
}

}  // namespace hllm::data
