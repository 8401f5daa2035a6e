#include "checkpoint/hf_export.h"

#include <ATen/ATen.h>

#include <filesystem>
#include <fstream>

#include "checkpoint/checkpoint_reader.h"
#include "common/error.h"
#include "models/llama_config.h"
#include "models/presets.h"
#include "models/safetensors_file.h"

namespace hllm::checkpoint {
namespace fs = std::filesystem;
namespace {

// The tower's architecture: its Hugging Face config when the run loaded one, else its preset at the
// vocabulary the checkpoint's token table has.
models::LlamaConfig tower_config(const std::string& source, int64_t vocab) {
  if (fs::is_directory(source)) return models::read_hf_config(source + "/config.json");
  return models::preset_config(source, vocab);
}

// One tower: every checkpoint tensor "param.<prefix><name>" as <name>, plus the extras, in float32.
void write_tower(const Checkpoint& checkpoint, const std::string& prefix, const std::vector<std::string>& extras,
                 const models::LlamaConfig& config, const fs::path& dir) {
  fs::create_directories(dir);
  // HLLM has no LM head (its towers end at the hidden state): the export says the head is the tied token
  // table, the usual layout of a headless export, so loaders do not look for lm_head.weight.
  models::LlamaConfig exported = config;
  exported.tie_word_embeddings = true;
  std::ofstream(dir / "config.json") << models::hf_config_json(exported) << "\n";
  std::vector<models::StWriteTensor> tensors;
  std::vector<std::string> sources;
  for (const auto& [name, t] : checkpoint.tensors().items()) {
    std::string stored;
    if (name.rfind("param." + prefix, 0) == 0) stored = name.substr(6 + prefix.size());
    for (const auto& extra : extras) {
      if (name == "param." + extra) stored = extra.substr(extra.rfind('.') + 1);
    }
    if (stored.empty()) continue;
    // The float32 master when there is one (bf16 runs), else the parameter.
    const std::string master = "master." + name.substr(6);
    sources.push_back(checkpoint.has(master) ? master : name);
    tensors.push_back({stored, models::StDtype::kF32, t.at("shape").get<std::vector<int64_t>>(), nullptr});
  }
  models::write_safetensors_streaming((dir / "model.safetensors").string(), tensors, {{"format", "pt"}},
                                      [&](size_t i, void* destination, size_t bytes) {
                                        at::Tensor values = at::from_blob(destination, {static_cast<int64_t>(bytes / 4)}, at::kFloat);
                                        checkpoint.read({sources[i], tensors[i].shape, 0, values});
                                      });
}

}  // namespace

void export_hf(const std::string& checkpoint_directory, const std::string& out) {
  if (fs::exists(out)) throw InputError(out + " exists; hllm_export writes a new directory");
  const Checkpoint checkpoint(checkpoint_directory);
  checkpoint.verify();
  const auto& model = checkpoint.info().at("config").at("model");
  if (model.at("type").get<std::string>() != "hllm") {
    throw InputError(checkpoint_directory + " holds a " + model.at("type").get<std::string>() +
                     " model; hllm_export writes HLLM's Item and User LLMs");
  }
  const std::string table = "param.item.model.embed_tokens.weight";
  if (!checkpoint.has(table)) throw InputError(checkpoint_directory + " has no " + table);
  const int64_t vocab = checkpoint.tensors().at(table).at("shape").at(0).get<int64_t>();
  const fs::path temp = out + ".tmp";
  fs::remove_all(temp);
  write_tower(checkpoint, "item.", {"item.item_token"}, tower_config(model.at("item").get<std::string>(), vocab),
              temp / "item");
  write_tower(checkpoint, "user.", {"logit_scale"}, tower_config(model.at("user").get<std::string>(), vocab),
              temp / "user");
  fs::rename(temp, out);  // complete or absent
}

}  // namespace hllm::checkpoint
