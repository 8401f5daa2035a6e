// New items given by their text only (not in the run's dataset), tokenized as the dataset's items are, for
// hllm_embed --items. hllm_prepare --new_items writes the file; LibTorch programs cannot tokenize themselves
// (SentencePiece and LibTorch never share a process: docs/ARCHITECTURE.md).
//
//   the layout of items.h5 (data/dataset_format.h): offsets, tokens (cut to the dataset's max_text_len), ids;
//                 row 0 is the padding
//   attributes    new_items_format_version (1), tokenizer_crc32 (of the dataset's tokenizer file, the one
//                 that made the tokens), max_text_len
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace hllm::data {

constexpr int kNewItemsFormatVersion = 1;

// The dataset's tokenizer checksum as an integer (meta.json keeps it as hex text).
int64_t tokenizer_crc32(const Dataset& dataset);

// The new items' ids (without the padding), after checking the file against `dataset`: a new-items file,
// made with the dataset's tokenizer, no id of the dataset's items. Throws InputError naming the file.
std::vector<std::string> check_new_items_file(const std::string& path, const Dataset& dataset);

}  // namespace hllm::data
