#include "data/item_embedding_file.h"

#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "common/error.h"
#include "common/json_input.h"
#include "data/hdf5_file.h"

namespace hllm::data {

void write_item_embeddings(const std::string& path, const ItemEmbeddingTable& table) {
  HLLM_CHECK(table.dataset_index.size() == table.ids.size() &&
                 static_cast<int64_t>(table.embeddings.size()) == table.rows() * table.dim,
             "item embeddings: ", table.ids.size(), " ids, ", table.dataset_index.size(), " indices and ",
             table.embeddings.size(), " values of dimension ", table.dim);
  const std::string temporary = path + ".tmp-" + std::to_string(::getpid());
  {
    Hdf5File file(temporary, Hdf5File::Mode::kCreate);
    file.write_float32_matrix("embeddings", table.rows(), table.dim, table.embeddings.data());
    file.write_strings("ids", table.ids);
    file.write_int64("dataset_index", table.dataset_index);
    file.write_attribute("format_version", kItemEmbeddingFormatVersion);
    file.write_attribute("num_dataset_items", table.num_dataset_items);
    file.write_attribute("num_new_items", table.rows() - table.num_dataset_items);
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) {
    std::filesystem::remove(temporary);
    throw InputError("cannot write '" + path + "': " + error.message());
  }
}

ItemEmbeddingTable read_item_embeddings(const std::string& path) {
  const Hdf5File file(path, Hdf5File::Mode::kRead);
  const std::string what = "'" + path + "' (written by hllm_embed)";
  for (const char* name : {"embeddings", "ids", "dataset_index"}) {
    if (!file.has(name)) throw InputError(what + " has no dataset '" + name + "'");
  }
  if (file.read_attribute("format_version") != kItemEmbeddingFormatVersion) {
    throw InputError(detail::concat(what, " has format version ", file.read_attribute("format_version"),
                                    "; this build reads version ", kItemEmbeddingFormatVersion));
  }
  ItemEmbeddingTable table;
  const auto [rows, dim] = file.matrix_shape("embeddings");
  table.dim = dim;
  table.ids = file.read_strings("ids");
  table.dataset_index = file.read_int64("dataset_index");
  table.num_dataset_items = file.read_attribute("num_dataset_items");
  if (table.rows() != rows || static_cast<int64_t>(table.dataset_index.size()) != rows ||
      table.num_dataset_items < 0 || table.num_dataset_items > rows) {
    throw InputError(detail::concat(what, ": ", rows, " embeddings, ", table.ids.size(), " ids, ",
                                    table.dataset_index.size(), " dataset indices and ", table.num_dataset_items,
                                    " dataset items do not agree"));
  }
  table.embeddings = file.read_float32_rows("embeddings", 0, rows);
  // A NaN or infinite value would score as null for every user; refused here, naming the row.
  for (size_t i = 0; i < table.embeddings.size(); ++i) {
    if (!std::isfinite(table.embeddings[i])) {
      throw InputError(detail::concat(what, ": row ", static_cast<int64_t>(i) / dim, " ('",
                                      text_excerpt(table.ids[i / dim]), "') holds ", table.embeddings[i],
                                      "; every value must be finite"));
    }
  }
  return table;
}

}  // namespace hllm::data
