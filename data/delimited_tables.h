// The two tables HLLM's CSV format and RecBole's atomic files share once their headers are read:
// interactions (user_id, item_id, timestamp columns, others ignored) and items (item_id plus text columns).
// Errors name the file and line.
#pragma once

#include <string>
#include <vector>

#include "data/csv_reader.h"
#include "data/raw_catalog.h"

namespace hllm::data {

// Index of `name` in `header`, or an InputError naming the file and the columns it has.
size_t header_column(const std::vector<std::string>& header, const std::string& name, const std::string& path);

// Reads the rows after the header; `header` holds plain column names.
void read_interaction_rows(CsvReader& reader, const std::vector<std::string>& header, RawCatalog* catalog);

// Reads the rows after the header; every column but item_id is a text field. Duplicate ids are errors.
void read_item_rows(CsvReader& reader, const std::vector<std::string>& header, RawCatalog* catalog);

}  // namespace hllm::data
