#include "data/dataset_writer.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "common/worker_threads.h"
#include "data/dataset_format.h"
#include "common/io/file_checksum.h"
#include "data/hdf5_array_writer.h"
#include "data/hdf5_file.h"

namespace hllm::data {
namespace fs = std::filesystem;

namespace {

nlohmann::ordered_json counts_json(const BuildCounts& c) {
  nlohmann::ordered_json j;
  j["input_interactions"] = c.input_interactions;
  j["input_users"] = c.input_users;
  j["input_items_with_metadata"] = c.input_items_with_metadata;
  j["interactions_without_metadata"] = c.interactions_without_metadata;
  j["interactions_removed_by_kcore"] = c.interactions_removed_by_kcore;
  j["kcore_rounds"] = c.kcore_rounds;
  j["users_too_short"] = c.users_too_short;
  j["items_with_empty_text"] = c.items_with_empty_text;
  if (c.cold_items > 0) {
    j["cold_items"] = c.cold_items;
    j["interactions_removed_as_cold"] = c.interactions_removed_as_cold;
  }
  return j;
}

// Users [first, end) into one shard file, their items and timestamps streamed (never concatenated whole).
void write_users(const std::string& path, const BuiltDataset& dataset, int64_t first, int64_t end, int threads,
                 ProgressMeter* progress) {
  std::vector<int64_t> offsets{0};
  std::vector<std::string> ids;
  Hdf5File file(path, Hdf5File::Mode::kCreate);
  file.write_attribute("first_user", first);
  {
    Hdf5ArrayWriter<int32_t> items(file, "items", threads);
    Hdf5ArrayWriter<int64_t> timestamps(file, "timestamps", threads);
    for (int64_t u = first; u < end; ++u) {
      items.append(dataset.user_items[u]);
      timestamps.append(dataset.user_timestamps[u]);
      offsets.push_back(items.size());
      ids.push_back(dataset.user_ids[u]);
      if (progress) progress->advance();
    }
    items.finish();
    timestamps.finish();
  }
  file.write_int64("offsets", offsets);
  file.write_strings("ids", ids);
}

// Every file of the dataset into `temp_dir`, flushed to disk; meta.json last.
void write_files(const fs::path& temp_dir, const BuiltDataset& dataset, const TokenizerFiles& tokenizer,
                 const WriteOptions& options) {
  const int64_t num_users = static_cast<int64_t>(dataset.user_ids.size());
  nlohmann::ordered_json meta;
  meta["format"] = kDatasetFormatName;
  meta["format_version"] = kDatasetFormatVersion;
  meta["source"] = options.source;
  meta["num_users"] = num_users;
  meta["num_items"] = dataset.counts.items;
  meta["num_interactions"] = dataset.counts.interactions;
  meta["counts"] = counts_json(dataset.counts);
  meta["filter"] = options.filter;
  meta["split"] = "leave-one-out: train on all but the last two items of each user, valid = second to last, "
                  "test = last";
  meta["text_keys"] = dataset.text_keys;
  meta["item_prompt"] = options.item_prompt;
  meta["prompt_tokens"] = tokenizer.encode(options.item_prompt);
  meta["max_text_len"] = options.max_text_len;

  HLLM_ASSERT(!tokenizer.files.empty(), "a tokenizer without files");
  std::vector<std::string> files;
  for (const auto& file : tokenizer.files) {
    fs::copy_file(file.path, temp_dir / file.name);
    files.push_back(file.name);
  }
  const std::string& main_file = tokenizer.files.front().name;
  meta["tokenizer"] = {{"file", main_file},
                       {"crc32", io::file_crc32((temp_dir / main_file).string())},
                       {"vocab_size", tokenizer.vocab_size},
                       {"bos_id", tokenizer.bos_id},
                       {"eos_id", tokenizer.eos_id},
                       {"pad_id", tokenizer.pad_id}};
  files.push_back("items.h5");
  std::map<std::string, std::vector<int32_t>> item_arrays;
  if (!dataset.item_cold.empty()) {
    item_arrays["cold"].assign(dataset.item_cold.begin(), dataset.item_cold.end());
    meta["cold_items"] = options.cold;
    meta["cold_items"]["count"] = dataset.counts.cold_items;
  }
  if (options.progress) options.progress->begin("tokenizing", static_cast<int64_t>(dataset.item_texts.size()), "items");
  write_item_tokens((temp_dir / "items.h5").string(), dataset.item_ids, dataset.item_texts, tokenizer,
                    options.max_text_len, {}, item_arrays, options.threads, options.progress);
  if (options.progress) options.progress->begin("writing users", num_users, "users");
  meta["num_shards"] = options.num_shards;
  meta["shards"] = nlohmann::json::array();
  for (int s = 0; s < options.num_shards; ++s) {
    const int64_t first = num_users * s / options.num_shards;
    const int64_t end = num_users * (s + 1) / options.num_shards;
    const std::string name = shard_file_name(s, options.num_shards);
    write_users((temp_dir / name).string(), dataset, first, end, options.threads, options.progress);
    meta["shards"].push_back({{"file", name}, {"first_user", first}, {"num_users", end - first}});
    files.push_back(name);
  }
  nlohmann::ordered_json checksums;
  for (const auto& name : files) {
    const std::string path = (temp_dir / name).string();
    io::fsync_path(path);
    checksums[name] = {{"bytes", static_cast<int64_t>(fs::file_size(path))}, {"crc32", io::file_crc32(path)}};
  }
  meta["files"] = checksums;
  {
    std::ofstream out(temp_dir / "meta.json");
    out << meta.dump(2) << "\n";
    HLLM_CHECK(out.good(), "cannot write ", (temp_dir / "meta.json").string());
  }
  io::fsync_path((temp_dir / "meta.json").string());
  io::fsync_path(temp_dir.string());

}

}  // namespace

std::string shard_file_name(int shard, int num_shards) {
  char name[64];
  std::snprintf(name, sizeof(name), "users-%05d-of-%05d.h5", shard, num_shards);
  return name;
}

void tokenize_in_order(const std::vector<std::string>& texts, const TokenizerFiles& tokenizer, int max_text_len,
                       int threads, ProgressMeter* progress, const TokenSink& emit) {
  constexpr size_t kBlock = 512;  // texts per block: long enough to amortise a thread's start, short for balance
  // No more threads than blocks (a small catalogue needs no idle ones).
  const size_t workers = std::max<size_t>(1, std::min(static_cast<size_t>(std::max(1, threads)),
                                                      (texts.size() + kBlock - 1) / kBlock));
  std::vector<std::vector<int32_t>> block_tokens(workers);
  std::vector<std::vector<int64_t>> block_lengths(workers);
  for (size_t round = 0; round < texts.size(); round += workers * kBlock) {
    const auto tokenize_block = [&](size_t w) {
      block_tokens[w].clear();
      block_lengths[w].clear();
      const size_t first = std::min(texts.size(), round + w * kBlock), end = std::min(texts.size(), first + kBlock);
      for (size_t i = first; i < end; ++i) {
        std::vector<int32_t> encoded = tokenizer.encode(texts[i]);
        if (static_cast<int>(encoded.size()) > max_text_len) encoded.resize(max_text_len);
        block_tokens[w].insert(block_tokens[w].end(), encoded.begin(), encoded.end());
        block_lengths[w].push_back(static_cast<int64_t>(encoded.size()));
      }
      if (progress && end > first) progress->advance(static_cast<int64_t>(end - first));
    };
    run_on_threads(workers, tokenize_block);
    for (size_t w = 0; w < workers; ++w) {  // in order: the result does not depend on the thread count
      if (!block_lengths[w].empty()) emit(block_tokens[w], block_lengths[w]);
    }
  }
}

void write_item_tokens(const std::string& path, const std::vector<std::string>& ids,
                       const std::vector<std::string>& texts, const TokenizerFiles& tokenizer, int max_text_len,
                       const std::map<std::string, int64_t>& attributes,
                       const std::map<std::string, std::vector<int32_t>>& arrays, int threads,
                       ProgressMeter* progress) {
  HLLM_CHECK(ids.size() == texts.size(), "item tokens: ", ids.size(), " ids for ", texts.size(), " texts");
  std::vector<int64_t> offsets{0};
  offsets.reserve(texts.size() + 1);
  Hdf5File file(path, Hdf5File::Mode::kCreate);
  {
    Hdf5ArrayWriter<int32_t> tokens(file, "tokens", threads);
    tokenize_in_order(texts, tokenizer, max_text_len, threads, progress,
                      [&](const std::vector<int32_t>& block, const std::vector<int64_t>& lengths) {
                        tokens.append(block);
                        for (const int64_t length : lengths) offsets.push_back(offsets.back() + length);
                      });
    tokens.finish();
  }
  file.write_int64("offsets", offsets);
  file.write_strings("ids", ids);
  for (const auto& [name, value] : attributes) file.write_attribute(name, value);
  for (const auto& [name, values] : arrays) {
    HLLM_CHECK(values.size() == ids.size(), "item array '", name, "' has ", values.size(), " values for ", ids.size(),
               " items");
    file.write_int32(name, values);
  }
}

void write_dataset(const std::string& directory, const BuiltDataset& dataset, const TokenizerFiles& tokenizer,
                   const WriteOptions& options) {
  const int64_t num_users = static_cast<int64_t>(dataset.user_ids.size());
  if (options.num_shards < 1 || options.num_shards > num_users) {
    throw InputError(detail::concat("--num_shards ", options.num_shards, ": must be between 1 and the number of users (",
                                    num_users, ")"));
  }
  if (options.max_text_len < 1) throw InputError(detail::concat("--max_text_len must be positive, got ", options.max_text_len));
  const fs::path final_dir = fs::absolute(directory).lexically_normal();
  if (fs::exists(final_dir) && !options.overwrite) {
    throw InputError("'" + directory + "' exists; choose another --out or pass --overwrite");
  }
  const fs::path temp_dir = final_dir.string() + ".tmp-" + std::to_string(::getpid());
  fs::remove_all(temp_dir);
  fs::create_directories(temp_dir);
  try {
    write_files(temp_dir, dataset, tokenizer, options);
  } catch (...) {
    fs::remove_all(temp_dir);  // a failed run leaves nothing behind
    throw;
  }

  // Publish: the new directory replaces the old only once it is complete.
  if (fs::exists(final_dir)) {
    const fs::path old_dir = final_dir.string() + ".old-" + std::to_string(::getpid());
    fs::rename(final_dir, old_dir);
    fs::rename(temp_dir, final_dir);
    fs::remove_all(old_dir);
  } else {
    fs::rename(temp_dir, final_dir);
  }
  io::fsync_path(final_dir.parent_path().string());
}

}  // namespace hllm::data
