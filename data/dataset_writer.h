// Writes a BuiltDataset as a dataset directory (data/dataset_format.h). The directory is written under a
// temporary name and renamed at the end, after every file is flushed to disk: an interrupted run never
// leaves a directory that looks like a dataset.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/progress_meter.h"
#include "data/dataset_builder.h"

namespace hllm::data {

struct WriteOptions {
  int num_shards = 1;
  int threads = 1;                    // threads tokenizing and compressing (the output is the same for any number)
  ProgressMeter* progress = nullptr;  // "tokenizing" and "writing users" phases shown there, when set
  int max_text_len = 256;
  std::string item_prompt = "Compress the following sentence into embedding: ";
  bool overwrite = false;  // replace an existing directory (only once the new one is complete)
  nlohmann::json source;   // recorded in meta.json: format and input files
  nlohmann::json filter;   // recorded in meta.json: k-core rule and thresholds, metadata policy
  nlohmann::json cold;     // recorded in meta.json with the count when the dataset has cold items: the rule
};

// A file that defines a tokenizer, and the name it takes in a dataset (tokenizer.model, tokenizer.json,
// tokenizer_config.json).
struct TokenizerFile {
  std::string path;
  std::string name;
};

// The tokenizer as the writer needs it: a function, and the files to copy into the dataset.
// (A function, not data::Tokenizer, so that this library does not link SentencePiece.)
struct TokenizerFiles {
  std::function<std::vector<int32_t>(const std::string&)> encode;
  // Copied into the dataset. The first is meta.json's tokenizer.file, whose CRC-32 identifies the
  // tokenizer (new-items files are checked against it).
  std::vector<TokenizerFile> files;
  int vocab_size = 0;
  int bos_id = -1;
  int eos_id = -1;
  int pad_id = -1;
};

// Tokenizes every item text and the prompt with `tokenizer.encode`.
void write_dataset(const std::string& directory, const BuiltDataset& dataset, const TokenizerFiles& tokenizer,
                   const WriteOptions& options);

// Every text tokenized and cut to max_text_len, handed to `emit` in order a block of texts at a time: their
// tokens one after another, and each text's count. On `threads` threads: contiguous blocks are tokenized at
// once and emitted in order as each round of blocks ends, so what is emitted is the same for any number of
// threads, and no more than one round's tokens are held. `progress` (optional) counts the texts done.
using TokenSink = std::function<void(const std::vector<int32_t>& tokens, const std::vector<int64_t>& lengths)>;
void tokenize_in_order(const std::vector<std::string>& texts, const TokenizerFiles& tokenizer, int max_text_len,
                       int threads, ProgressMeter* progress, const TokenSink& emit);

// items.h5's layout (data/dataset_format.h) for `ids` and `texts` (row 0 the padding: "" and ""), each text
// tokenized and cut to max_text_len, with `attributes` on the file and `arrays` (one value per item, e.g.
// "cold") beside the tokens: the dataset's items, and new items. The tokens are streamed into the file as
// they are made (data/hdf5_array_writer.h), never held whole; `threads` tokenize and compress them.
void write_item_tokens(const std::string& path, const std::vector<std::string>& ids,
                       const std::vector<std::string>& texts, const TokenizerFiles& tokenizer, int max_text_len,
                       const std::map<std::string, int64_t>& attributes = {},
                       const std::map<std::string, std::vector<int32_t>>& arrays = {}, int threads = 1,
                       ProgressMeter* progress = nullptr);

// "users-00003-of-00016.h5"
std::string shard_file_name(int shard, int num_shards);

}  // namespace hllm::data
