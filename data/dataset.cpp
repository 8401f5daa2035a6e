#include "data/dataset.h"

#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "data/dataset_format.h"
#include "data/file_checksum.h"
#include "data/hdf5_file.h"

namespace hllm::data {
namespace fs = std::filesystem;

namespace {

[[noreturn]] void bad(const std::string& path, const std::string& what) { throw InputError(path + ": " + what); }

// Offsets of a CSR array: start at 0, never decrease, end at `total`.
void check_offsets(const std::vector<int64_t>& offsets, int64_t total, const std::string& path) {
  if (offsets.empty() || offsets.front() != 0) bad(path, "'offsets' must start at 0");
  for (size_t i = 1; i < offsets.size(); ++i) {
    if (offsets[i] < offsets[i - 1]) bad(path, "'offsets' decrease at index " + std::to_string(i));
  }
  if (offsets.back() != total) {
    bad(path, detail::concat("'offsets' end at ", offsets.back(), " but the data holds ", total, " elements"));
  }
}

}  // namespace

Dataset Dataset::open(const std::string& directory) {
  Dataset dataset;
  dataset.directory_ = directory;
  const std::string meta_path = (fs::path(directory) / "meta.json").string();
  std::ifstream in(meta_path);
  if (!in) {
    throw InputError("'" + directory + "' is not a dataset: no meta.json (write one with hllm_prepare)");
  }
  try {
    dataset.meta_ = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    bad(meta_path, std::string("not valid JSON: ") + e.what());
  }
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
  check_offsets(offsets, static_cast<int64_t>(tokens.size()), file.path());
  if (static_cast<int64_t>(offsets.size()) != num_items() + 2) {
    bad(file.path(), detail::concat("'offsets' has ", offsets.size(), " entries, expected num_items + 2 = ", num_items() + 2));
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
  check_offsets(offsets, static_cast<int64_t>(items.size()), file.path());
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
    const std::string crc = file_crc32(path);
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
