#include "data/dataset.h"

#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "common/json_input.h"
#include "common/json_input.h"
#include "data/csr_offsets.h"
#include "data/dataset_format.h"
#include "common/io/file_checksum.h"
#include "data/hdf5_file.h"

namespace hllm::data {
namespace fs = std::filesystem;

namespace {

[[noreturn]] void bad(const std::string& path, const std::string& what) { throw InputError(path + ": " + what); }

}  // namespace

Dataset Dataset::open(const std::string& directory) {
  Dataset dataset;
  dataset.directory_ = directory;
  const std::string meta_path = (fs::path(directory) / "meta.json").string();
  if (!std::ifstream(meta_path)) {
    throw InputError("'" + directory + "' is not a dataset: no meta.json (write one with hllm_prepare)");
  }
  dataset.meta_ = read_json_file(meta_path);
  const auto& meta = dataset.meta_;
  if (meta.value("format", "") != kDatasetFormatName) bad(meta_path, "not an HLLM dataset (format is not 'hllm-dataset')");
  const int version = meta.value("format_version", -1);
  if (version != kDatasetFormatVersion) {
    bad(meta_path, detail::concat("dataset format version ", version, ", this build reads version ",
                                  kDatasetFormatVersion, "; prepare the dataset again with this hllm_prepare"));
  }
  for (const char* key : {"num_users", "num_items", "num_shards", "shards", "files", "tokenizer", "prompt_tokens"}) {
    if (!meta.contains(key)) bad(meta_path, std::string("missing key '") + key + "'");
  }
  const nlohmann::json* vocab = meta.at("tokenizer").is_object() && meta.at("tokenizer").contains("vocab_size")
                                    ? &meta.at("tokenizer").at("vocab_size")
                                    : nullptr;
  if (vocab == nullptr || !vocab->is_number_integer() || vocab->get<int64_t>() < 1 ||
      vocab->get<int64_t>() > kMaxVocabularySize) {
    bad(meta_path, detail::concat("'tokenizer.vocab_size' must be an integer in [1, ", kMaxVocabularySize, "], got ",
                                  vocab ? json_excerpt(*vocab) : "none"));
  }
  const nlohmann::json& prompt = meta.at("prompt_tokens");
  if (!prompt.is_array()) bad(meta_path, "'prompt_tokens' must be a list of token ids");
  for (const auto& id : prompt) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= vocab->get<int64_t>()) {
      bad(meta_path, detail::concat("'prompt_tokens' holds ", json_excerpt(id), ", outside the vocabulary [0, ",
                                    vocab->get<int64_t>(), ")"));
    }
  }
  for (const auto& [name, info] : meta.at("files").items()) {
    const fs::path path = fs::path(directory) / name;
    if (!fs::exists(path)) bad(path.string(), "missing (listed in meta.json)");
    const auto bytes = static_cast<int64_t>(fs::file_size(path));
    if (bytes != info.at("bytes").get<int64_t>()) {
      bad(path.string(), detail::concat(bytes, " bytes, meta.json records ", info.at("bytes").get<int64_t>(),
                                        " (truncated or replaced)"));
    }
  }
  return dataset;
}

std::string Dataset::path_of(const std::string& file) const { return (fs::path(directory_) / file).string(); }

std::string Dataset::tokenizer_path() const {
  return path_of(meta_.at("tokenizer").at("file").get<std::string>());
}

std::string Dataset::shard_path(int shard) const {
  return path_of(meta_.at("shards").at(shard).at("file").get<std::string>());
}

std::vector<std::string> Dataset::read_item_ids() const {
  const Hdf5File file(path_of("items.h5"), Hdf5File::Mode::kRead);
  std::vector<std::string> ids = file.read_strings("ids");
  if (static_cast<int64_t>(ids.size()) != num_items() + 1) {
    throw InputError(detail::concat("'", path_of("items.h5"), "': ", ids.size(), " item ids for ", num_items(),
                                    " items and the padding"));
  }
  return ids;
}

std::vector<uint8_t> Dataset::read_cold_items() const {
  const Hdf5File file(path_of("items.h5"), Hdf5File::Mode::kRead);
  if (!file.has("cold")) return {};
  const std::vector<int32_t> cold = file.read_int32("cold");
  if (static_cast<int64_t>(cold.size()) != num_items() + 1) {
    bad(file.path(), detail::concat("'cold' has ", cold.size(), " entries, expected num_items + 1 = ", num_items() + 1));
  }
  return std::vector<uint8_t>(cold.begin(), cold.end());
}

std::vector<std::vector<int32_t>> Dataset::read_item_tokens() const {
  const Hdf5File file(path_of("items.h5"), Hdf5File::Mode::kRead);
  const auto offsets = file.read_int64("offsets");
  const auto tokens = file.read_int32("tokens");
  check_csr_offsets(offsets, static_cast<int64_t>(tokens.size()), file.path(), "offsets");
  if (static_cast<int64_t>(offsets.size()) != num_items() + 2) {
    bad(file.path(), detail::concat("'offsets' has ", offsets.size(), " entries, expected num_items + 2 = ", num_items() + 2));
  }
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] < 0 || tokens[i] >= vocab_size()) {
      bad(file.path(), detail::concat("token ", i, " has the id ", tokens[i], ", outside the tokenizer's vocabulary [0, ",
                                      vocab_size(), ")"));
    }
  }
  std::vector<std::vector<int32_t>> items;
  for (size_t i = 0; i + 1 < offsets.size(); ++i) {
    items.emplace_back(tokens.begin() + offsets[i], tokens.begin() + offsets[i + 1]);
  }
  return items;
}

std::vector<UserSequence> Dataset::read_shard(int shard) const {
  HLLM_CHECK(shard >= 0 && shard < num_shards(), "shard ", shard, " out of range [0, ", num_shards(), ")");
  const Hdf5File file(shard_path(shard), Hdf5File::Mode::kRead);
  const auto offsets = file.read_int64("offsets");
  const auto items = file.read_int32("items");
  const auto timestamps = file.read_int64("timestamps");
  const auto ids = file.read_strings("ids");
  check_csr_offsets(offsets, static_cast<int64_t>(items.size()), file.path(), "offsets");
  if (timestamps.size() != items.size()) bad(file.path(), "'timestamps' and 'items' differ in length");
  if (ids.size() + 1 != offsets.size()) bad(file.path(), "'ids' and 'offsets' disagree on the number of users");
  std::vector<UserSequence> users;
  for (size_t u = 0; u < ids.size(); ++u) {
    UserSequence user;
    user.id = ids[u];
    user.items.assign(items.begin() + offsets[u], items.begin() + offsets[u + 1]);
    user.timestamps.assign(timestamps.begin() + offsets[u], timestamps.begin() + offsets[u + 1]);
    for (const auto item : user.items) {
      if (item < 1 || item > num_items()) {
        bad(file.path(), detail::concat("user '", user.id, "' has item index ", item, " outside [1, ", num_items(), "]"));
      }
    }
    users.push_back(std::move(user));
  }
  return users;
}

void Dataset::verify() const {
  for (const auto& [name, info] : meta_.at("files").items()) {
    const std::string path = path_of(name);
    const std::string crc = io::file_crc32(path);
    if (crc != info.at("crc32").get<std::string>()) {
      bad(path, "checksum " + crc + " differs from meta.json's " + info.at("crc32").get<std::string>() + " (damaged)");
    }
  }
  read_item_tokens();
  read_cold_items();
  int64_t users = 0;
  for (int s = 0; s < num_shards(); ++s) users += static_cast<int64_t>(read_shard(s).size());
  if (users != num_users()) bad(path_of("meta.json"), detail::concat("shards hold ", users, " users, meta.json says ", num_users()));
}

}  // namespace hllm::data
