#include "common/error.h"
#include "data/csv_reader.h"
#include "data/delimited_tables.h"
#include "data/input_formats.h"

namespace hllm::data {
namespace {

// A typed RecBole header ("movie_title:token_seq") as plain names ("movie_title").
bool read_typed_header(CsvReader& reader, std::vector<std::string>* names) {
  std::vector<std::string> typed;
  if (!reader.next(&typed)) return false;
  names->clear();
  for (const auto& field : typed) names->push_back(field.substr(0, field.find(':')));
  return true;
}

}  // namespace

RawCatalog read_recbole(const std::string& inter_path, const std::string& item_path, ProgressMeter* progress) {
  RawCatalog catalog;
  catalog.source = "recbole";
  std::vector<std::string> header;

  CsvReader inter(inter_path, '\t', /*quoting=*/false, progress);
  if (!read_typed_header(inter, &header)) throw InputError(inter_path + ": empty file (expected a typed header)");
  read_interaction_rows(inter, header, &catalog);

  read_recbole_items(item_path, &catalog, progress);
  return catalog;
}

void read_recbole_items(const std::string& item_path, RawCatalog* catalog, ProgressMeter* progress) {
  std::vector<std::string> header;
  CsvReader items(item_path, '\t', /*quoting=*/false, progress);
  if (!read_typed_header(items, &header)) throw InputError(item_path + ": empty file (expected a typed header)");
  read_item_rows(items, header, catalog);
}

}  // namespace hllm::data
