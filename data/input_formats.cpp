#include "data/input_formats.h"

namespace hllm::data {

bool read_items_file(const std::string& format, const std::string& items_path, RawCatalog* catalog) {
  if (format == "hllm_csv") {
    read_hllm_csv_items(items_path, catalog);
  } else if (format == "recbole") {
    read_recbole_items(items_path, catalog);
  } else if (format == "amazon2018") {
    read_amazon2018_metadata(items_path, catalog);
  } else {
    return false;
  }
  return true;
}

}  // namespace hllm::data
