// The item-embedding table that hllm_embed writes and hllm_recommend reads: one HDF5 file, readable by h5py
// and NumPy (`f["embeddings"][:]`, `f["ids"].asstr()[:]`). Format version 1:
//
//   embeddings     float32 [N, D]  the Item LLM's output for each item (an ID model's table row), as the
//                                  model scores it: recommendations rank by cosine, so rows are not scaled
//   ids            string  [N]     the item's external id (the raw id of the input files)
//   dataset_index  int64   [N]     the item's index in the run's dataset (1..num_items), 0 for a new item
//                                  embedded from its text only
//   attributes     format_version, num_dataset_items (the first rows: the dataset's items in its order),
//                  num_new_items (the rows after them)
//
// The file is written under a temporary name and renamed, so a file with this name is complete.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hllm::data {

constexpr int kItemEmbeddingFormatVersion = 1;

struct ItemEmbeddingTable {
  int64_t dim = 0;
  std::vector<std::string> ids;
  std::vector<int64_t> dataset_index;
  std::vector<float> embeddings;  // ids.size() x dim, row-major
  int64_t num_dataset_items = 0;  // the first rows; the rest are new items

  int64_t rows() const { return static_cast<int64_t>(ids.size()); }
};

void write_item_embeddings(const std::string& path, const ItemEmbeddingTable& table);
// Throws InputError naming the file when it is not such a table (missing datasets, shapes that disagree,
// another format version, a value that is not finite).
ItemEmbeddingTable read_item_embeddings(const std::string& path);

}  // namespace hllm::data
