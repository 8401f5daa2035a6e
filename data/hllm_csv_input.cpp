#include "common/error.h"
#include "data/csv_reader.h"
#include "data/delimited_tables.h"
#include "data/input_formats.h"

namespace hllm::data {

RawCatalog read_hllm_csv(const std::string& interactions_path, const std::string& items_path,
                         ProgressMeter* progress) {
  RawCatalog catalog;
  catalog.source = "hllm_csv";
  std::vector<std::string> header;

  CsvReader interactions(interactions_path, ',', /*quoting=*/true, progress);
  if (!interactions.next(&header)) throw InputError(interactions_path + ": empty file (expected a header)");
  read_interaction_rows(interactions, header, &catalog);

  read_hllm_csv_items(items_path, &catalog, progress);
  return catalog;
}

void read_hllm_csv_items(const std::string& items_path, RawCatalog* catalog, ProgressMeter* progress) {
  std::vector<std::string> header;
  CsvReader items(items_path, ',', /*quoting=*/true, progress);
  if (!items.next(&header)) throw InputError(items_path + ": empty file (expected a header)");
  read_item_rows(items, header, catalog);
}

}  // namespace hllm::data
