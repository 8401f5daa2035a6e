// Dataset: read access to a dataset directory (data/dataset_format.h). open() checks the format version
// and that every listed file is there with its recorded size; verify() also recomputes every checksum and
// reads every array, checking offsets and index ranges. Errors name the file.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace hllm::data {

// A user's history as stored: item indices and timestamps in time order.
struct UserSequence {
  std::string id;
  std::vector<int32_t> items;
  std::vector<int64_t> timestamps;
};

class Dataset {
 public:
  // Throws InputError: missing meta.json, wrong format or version, a listed file missing or of the
  // wrong size.
  static Dataset open(const std::string& directory);

  const std::string& directory() const { return directory_; }
  const nlohmann::json& meta() const { return meta_; }
  int64_t num_users() const { return meta_.at("num_users").get<int64_t>(); }
  int64_t num_items() const { return meta_.at("num_items").get<int64_t>(); }  // without padding
  int num_shards() const { return meta_.at("num_shards").get<int>(); }
  // Token ids lie in [0, vocab_size()) (checked at open: at most kMaxVocabularySize).
  int64_t vocab_size() const { return meta_.at("tokenizer").at("vocab_size").get<int64_t>(); }
  std::string path_of(const std::string& file) const;
  std::string shard_path(int shard) const;
  // The tokenizer the items were tokenized with (meta.json's tokenizer.file: tokenizer.model or
  // tokenizer.json, its tokenizer_config.json beside it).
  std::string tokenizer_path() const;

  // Reads every file in full: checksums, offsets monotone and consistent, item indices in range.
  // Throws InputError naming the first bad file.
  void verify() const;

  // All users of one shard.
  std::vector<UserSequence> read_shard(int shard) const;
  // The raw (external) id of every item (index 0 = padding, "").
  std::vector<std::string> read_item_ids() const;
  // 1 for every cold item (held out of training; index 0 = padding, 0); empty when the dataset has none.
  std::vector<uint8_t> read_cold_items() const;
  // Token ids of every item (index 0 = padding, empty).
  std::vector<std::vector<int32_t>> read_item_tokens() const;

 private:
  std::string directory_;
  nlohmann::json meta_;
};

}  // namespace hllm::data
