#include "runtime/hf_export.h"

#include <ATen/ATen.h>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "checkpoint/checkpoint_reader.h"
#include "common/error.h"
#include "common/config/config_enums.h"
#include "common/io/safetensors_file.h"
#include "common/json_input.h"
#include "models/llama_config.h"
#include "models/presets.h"
#include "runtime/state_key.h"

namespace hllm::runtime {
namespace fs = std::filesystem;
namespace {

// Tensors [first, end) of a tower into one file, each read from the checkpoint as it is written.
void write_shard(const checkpoint::Checkpoint& checkpoint, const std::vector<io::StWriteTensor>& tensors,
                 const std::vector<std::string>& sources, size_t first, size_t end, const fs::path& path) {
  const std::vector<io::StWriteTensor> mine(tensors.begin() + first, tensors.begin() + end);
  io::write_safetensors_streaming(path.string(), mine, {{"format", "pt"}}, [&](size_t i, void* destination, size_t bytes) {
    at::Tensor values = at::from_blob(destination, {static_cast<int64_t>(bytes / 4)}, at::kFloat);
    checkpoint.read({sources[first + i], mine[i].shape, 0, values});
  });
}

int64_t float32_bytes(const std::vector<int64_t>& shape) {
  int64_t n = 4;
  for (const int64_t d : shape) n *= d;
  return n;
}

// One tower: every checkpoint parameter "<prefix><name>" as <name>, plus the extras, in float32; one
// file, or shards of at most max_shard_bytes with their index.
void write_tower(const checkpoint::Checkpoint& checkpoint, const std::string& prefix, const std::vector<std::string>& extras,
                 const models::LlamaConfig& config, const fs::path& dir, int64_t max_shard_bytes) {
  fs::create_directories(dir);
  // HLLM has no LM head (its towers end at the hidden state): the export says the head is the tied token
  // table, the usual layout of a headless export, so loaders do not look for lm_head.weight.
  models::LlamaConfig exported = config;
  exported.tie_word_embeddings = true;
  std::ofstream(dir / "config.json") << models::hf_config_json(exported) << "\n";
  std::vector<io::StWriteTensor> tensors;
  std::vector<std::string> sources;
  for (const auto& [name, t] : checkpoint.tensors().items()) {
    const std::optional<StateKey> key = StateKey::parse(name);
    if (!key || key->kind != StateKind::kParameter) continue;
    const std::string& parameter = key->parameter;
    std::string stored;
    if (parameter.rfind(prefix, 0) == 0) stored = parameter.substr(prefix.size());
    for (const auto& extra : extras) {
      if (parameter == extra) stored = extra.substr(extra.rfind('.') + 1);
    }
    if (stored.empty()) continue;
    // The float32 master when there is one (bf16 runs), else the parameter.
    const std::string master = StateKey{StateKind::kMaster, parameter}.name();
    sources.push_back(checkpoint.has(master) ? master : name);
    tensors.push_back({stored, io::StDtype::kF32, t.at("shape").get<std::vector<int64_t>>(), nullptr});
  }
  // Shards: tensors in order, a shard closed before the next tensor would pass the limit.
  std::vector<size_t> shard_first{0};
  int64_t filled = 0, total = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const int64_t bytes = float32_bytes(tensors[i].shape);
    if (filled > 0 && filled + bytes > max_shard_bytes) {
      shard_first.push_back(i);
      filled = 0;
    }
    filled += bytes;
    total += bytes;
  }
  const size_t shards = shard_first.size();
  if (shards == 1) {
    write_shard(checkpoint, tensors, sources, 0, tensors.size(), dir / "model.safetensors");
    return;
  }
  nlohmann::ordered_json index;
  index["metadata"] = {{"total_size", total}};
  index["weight_map"] = nlohmann::ordered_json::object();
  for (size_t s = 0; s < shards; ++s) {
    char name[64];
    std::snprintf(name, sizeof(name), "model-%05zu-of-%05zu.safetensors", s + 1, shards);
    const size_t end = s + 1 < shards ? shard_first[s + 1] : tensors.size();
    write_shard(checkpoint, tensors, sources, shard_first[s], end, dir / name);
    for (size_t i = shard_first[s]; i < end; ++i) index["weight_map"][tensors[i].name] = name;
  }
  std::ofstream(dir / "model.safetensors.index.json") << index.dump(2) << "\n";
}

}  // namespace

int64_t parse_byte_size(const std::string& text) {
  size_t digits = 0;
  while (digits < text.size() && (std::isdigit(static_cast<unsigned char>(text[digits])) || text[digits] == '.')) ++digits;
  const std::map<std::string, double> units{{"", 1},     {"B", 1},         {"KB", 1e3},           {"MB", 1e6},
                                            {"GB", 1e9}, {"KiB", 1024.0}, {"MiB", 1048576.0},  {"GiB", 1073741824.0}};
  const auto unit = units.find(text.substr(digits));
  double number = 0;
  try {
    number = digits > 0 ? std::stod(text.substr(0, digits)) : 0;
  } catch (const std::exception&) {
    number = 0;
  }
  if (unit == units.end() || number <= 0) {
    throw InputError("'" + text + "' is not a size: expected a positive number of bytes, or with KB, MB, GB, KiB, MiB or GiB");
  }
  return static_cast<int64_t>(number * unit->second);
}

void export_hf(const std::string& checkpoint_directory, const std::string& out, int64_t max_shard_bytes) {
  if (max_shard_bytes <= 0) throw InputError("the largest shard must be positive");
  if (fs::exists(out)) throw InputError(out + " exists; hllm_export writes a new directory");
  const checkpoint::Checkpoint checkpoint(checkpoint_directory);
  checkpoint.verify();
  const auto& model = checkpoint.info().at("config").at("model");
  config::ModelType type = config::ModelType::kHllm;
  const std::string unknown = config::read_enum(model.at("type"), &type);
  if (!unknown.empty() || type != config::ModelType::kHllm) {
    throw InputError(checkpoint_directory + " holds a " +
                     (unknown.empty() ? config::enum_name(type) : json_excerpt(model.at("type"))) +
                     " model; hllm_export writes HLLM's Item and User LLMs");
  }
  const std::string table = StateKey{StateKind::kParameter, "item.model.embed_tokens.weight"}.name();
  if (!checkpoint.has(table)) throw InputError(checkpoint_directory + " has no " + table);
  const int64_t vocab = checkpoint.tensors().at(table).at("shape").at(0).get<int64_t>();
  const fs::path temp = out + ".tmp";
  fs::remove_all(temp);
  write_tower(checkpoint, "item.", {"item.item_token"}, models::tower_config(model.at("item").get<std::string>(), vocab),
              temp / "item", max_shard_bytes);
  write_tower(checkpoint, "user.", {"logit_scale"}, models::tower_config(model.at("user").get<std::string>(), vocab),
              temp / "user", max_shard_bytes);
  fs::rename(temp, out);  // complete or absent
}

}  // namespace hllm::runtime
