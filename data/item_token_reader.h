// ItemTokenReader: the tokens of chosen items, read from items.h5 (or a new-items file of its layout) by
// hyperslab. The offsets are kept in memory, the tokens are not; adjacent items are read in one go.
//
// What the Item LLM is given is checked here, once, where the file enters: the offsets are checked at
// construction (start at 0, never decrease, end at the tokens' length), and every token read is checked
// against the vocabulary, so that a damaged or hand-made file is refused naming the file and the item
// instead of reading out of bounds or failing inside the embedding ("index out of range in self"). An
// item longer than the dataset's max_text_len is cut to its first max_text_len tokens, as hllm_prepare
// cuts the dataset's own.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/hdf5_file.h"

namespace hllm::data {

class ItemTokenReader {
 public:
  // The dataset's items.h5. Throws InputError naming the file when its offsets do not fit its tokens.
  explicit ItemTokenReader(const Dataset& dataset);
  // A file of items.h5's layout tokenized with `dataset`'s tokenizer (new items: data/new_items_file.h).
  ItemTokenReader(const std::string& items_path, const Dataset& dataset);

  // Tokens of `items` (ascending item indices) as CSR: *offsets gets items.size() + 1 entries. Throws
  // InputError naming the file and item for a token id outside [0, vocab_size).
  void read(const std::vector<int64_t>& items, std::vector<int64_t>* offsets, std::vector<int64_t>* tokens) const;

  int64_t num_items() const { return static_cast<int64_t>(offsets_.size()) - 2; }  // without padding
  // The text tokens read() gives item `item` (1 .. num_items()): its stored text, at most max_text_len.
  int64_t text_length(int64_t item) const {
    return std::min(offsets_[item + 1] - offsets_[item], max_text_len_);
  }

 private:
  ItemTokenReader(std::unique_ptr<Hdf5File> file, const Dataset& dataset);

  std::unique_ptr<Hdf5File> file_;
  std::vector<int64_t> offsets_;  // [num_items + 2]
  int64_t vocab_size_ = 0;
  int64_t max_text_len_ = 0;
};

}  // namespace hllm::data
