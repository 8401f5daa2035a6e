#include <algorithm>
#include <map>

#include "common/error.h"
#include "data/csv_reader.h"
#include "data/input_formats.h"

namespace hllm::data {
namespace {

// "movie_title:token_seq" -> "movie_title".
std::string field_name(const std::string& typed) { return typed.substr(0, typed.find(':')); }

size_t column(const std::vector<std::string>& names, const std::string& name, const std::string& path) {
  const auto it = std::find(names.begin(), names.end(), name);
  if (it == names.end()) {
    std::string have;
    for (const auto& h : names) have += (have.empty() ? "" : ", ") + h;
    throw InputError(path + ":1: missing field '" + name + "' (the header has: " + have + ")");
  }
  return static_cast<size_t>(it - names.begin());
}

std::string where(const CsvReader& reader) { return reader.path() + ":" + std::to_string(reader.line()); }

}  // namespace

RawCatalog read_recbole(const std::string& inter_path, const std::string& item_path) {
  RawCatalog catalog;
  catalog.source = "recbole";
  std::vector<std::string> fields;

  CsvReader inter(inter_path, '\t', /*quoting=*/false);
  if (!inter.next(&fields)) throw InputError(inter_path + ": empty file (expected a typed header)");
  std::vector<std::string> names;
  for (const auto& f : fields) names.push_back(field_name(f));
  const size_t user_col = column(names, "user_id", inter_path);
  const size_t item_col = column(names, "item_id", inter_path);
  const size_t time_col = column(names, "timestamp", inter_path);
  while (inter.next(&fields)) {
    if (fields.size() != names.size()) {
      throw InputError(where(inter) + ": " + std::to_string(fields.size()) + " fields, the header has " +
                       std::to_string(names.size()));
    }
    RawInteraction row{fields[user_col], fields[item_col], parse_timestamp(fields[time_col], where(inter)),
                       static_cast<int64_t>(catalog.interactions.size())};
    if (row.item.empty() || row.user.empty()) throw InputError(where(inter) + ": empty item_id or user_id");
    catalog.interactions.push_back(std::move(row));
  }

  CsvReader items(item_path, '\t', /*quoting=*/false);
  if (!items.next(&fields)) throw InputError(item_path + ": empty file (expected a typed header)");
  names.clear();
  for (const auto& f : fields) names.push_back(field_name(f));
  const size_t id_col = column(names, "item_id", item_path);
  for (size_t c = 0; c < names.size(); ++c) {
    if (c != id_col) catalog.text_keys.push_back(names[c]);
  }
  std::map<std::string, int> first_line;
  while (items.next(&fields)) {
    if (fields.size() != names.size()) {
      throw InputError(where(items) + ": " + std::to_string(fields.size()) + " fields, the header has " +
                       std::to_string(names.size()));
    }
    RawItem item;
    item.id = fields[id_col];
    const auto [it, inserted] = first_line.emplace(item.id, items.line());
    if (!inserted) {
      throw InputError(where(items) + ": duplicate item_id '" + item.id + "' (first on line " +
                       std::to_string(it->second) + ")");
    }
    for (size_t c = 0; c < names.size(); ++c) {
      if (c != id_col) item.fields.emplace_back(names[c], fields[c]);
    }
    catalog.items.push_back(std::move(item));
  }
  return catalog;
}

}  // namespace hllm::data
