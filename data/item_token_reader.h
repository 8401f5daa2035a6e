// ItemTokenReader: the tokens of chosen items, read from items.h5 by hyperslab (the offsets are kept in
// memory, the tokens are not). Adjacent items are read in one go.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "data/dataset.h"
#include "data/hdf5_file.h"

namespace hllm::data {

class ItemTokenReader {
 public:
  explicit ItemTokenReader(const Dataset& dataset);
  // A file of items.h5's layout (new items: data/new_items_file.h).
  explicit ItemTokenReader(const std::string& items_path);

  // Tokens of `items` (ascending item indices) as CSR: *offsets gets items.size() + 1 entries.
  void read(const std::vector<int64_t>& items, std::vector<int64_t>* offsets, std::vector<int64_t>* tokens) const;

  int64_t num_items() const { return static_cast<int64_t>(offsets_.size()) - 2; }  // without padding

 private:
  std::unique_ptr<Hdf5File> file_;
  std::vector<int64_t> offsets_;  // [num_items + 2]
};

}  // namespace hllm::data
