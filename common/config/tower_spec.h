// TowerSpec: what model.item / model.user name — a preset ("debug", "tiny", "1b", "7b"), a Hugging Face
// model directory, or a shape given in the config (TowerShape), so that a ladder of sizes for a scaling
// experiment is not limited to the presets:
//
//   "model": {"item": "tiny", "user": {"hidden_size": 256, "num_layers": 4, "num_heads": 4}}
//
// In JSON a spec is a string or an object; JsonReader reads it (config_schema.h), to_json writes it back.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/config/config_schema.h"

namespace hllm::config {

// A LLaMA-style decoder's shape, trained from random weights. Keys left out take the LLaMA rules.
struct TowerShape {
  int64_t hidden_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;       // absent: num_heads (no grouped-query attention)
  int64_t intermediate_size = 0;  // absent: 8/3 hidden_size rounded up to a multiple of 8 (the tiny preset's rule)

  template <typename V>
  void visit(V& v) {
    v.field("hidden_size", hidden_size, "Hidden size D.", Limits::at_least(1));
    v.field("num_layers", num_layers, "Decoder layers.", Limits::at_least(1));
    v.field("num_heads", num_heads, "Attention heads; D / num_heads is the head size (even, for RoPE).",
            Limits::at_least(1));
    v.field("num_kv_heads", num_kv_heads, "Key-value heads (grouped-query attention); dividing num_heads.",
            Limits::at_least(1));
    v.field("intermediate_size", intermediate_size, "SwiGLU width.", Limits::at_least(1));
  }

  // Fills the keys left out by their rules.
  void resolve();
  // What is wrong: a required key missing, or keys that do not fit together (each message names its key
  // under `prefix`, e.g. "model.item.").
  std::vector<ConfigProblem> problems(const std::string& prefix) const;
};

// The presets' names (models/presets.h has their shapes).
inline const std::vector<std::string>& tower_presets() {
  static const std::vector<std::string> names = {"debug", "tiny", "1b", "7b"};
  return names;
}

struct TowerSpec {
  std::string source;                // a preset name or a model directory; empty when `shape` is set
  std::optional<TowerShape> shape;

  TowerSpec(const char* name) : source(name) {}  // NOLINT: a name is a spec, as in JSON
  TowerSpec(std::string name) : source(std::move(name)) {}  // NOLINT
  TowerSpec(TowerShape s) : shape(s) {}  // NOLINT

  // "tiny", "/models/Llama-3.2-1B", or "hidden 256, 4 layers, 4 heads (4 kv), ffn 688" for messages and logs.
  std::string describe() const;
};

// Reads a string or an object into *out; problems name `key` and its sub-keys.
void read_tower_spec(const nlohmann::json& value, const std::string& key, TowerSpec* out,
                     std::vector<ConfigProblem>* problems);

nlohmann::ordered_json tower_spec_json(const TowerSpec& spec);

template <typename Json>
void to_json(Json& json, const TowerSpec& spec) {
  json = Json::parse(tower_spec_json(spec).dump());
}

template <>
std::string type_name<TowerSpec>();

}  // namespace hllm::config
