#include "models/llama_config.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "common/error.h"

namespace hllm::models {
namespace {

template <typename T>
void read_field(const nlohmann::json& json, const char* key, T* out, const std::string& origin, bool required) {
  const auto it = json.find(key);
  if (it == json.end() || it->is_null()) {
    if (required) throw InputError(origin + ": missing '" + key + "'");
    return;
  }
  try {
    *out = it->get<T>();
  } catch (const nlohmann::json::exception&) {
    throw InputError(origin + ": '" + key + "' has the wrong type: " + it->dump());
  }
}

}  // namespace

void LlamaConfig::validate(const std::string& origin) const {
  auto check = [&](bool ok, const std::string& what) {
    if (!ok) throw InputError(origin + ": " + what);
  };
  check(vocab_size > 0 && hidden_size > 0 && intermediate_size > 0 && num_hidden_layers > 0,
        "vocab_size, hidden_size, intermediate_size and num_hidden_layers must be positive");
  check(num_attention_heads > 0 && hidden_size % num_attention_heads == 0,
        detail::concat("hidden_size ", hidden_size, " is not divisible by num_attention_heads ", num_attention_heads));
  check(num_key_value_heads > 0 && num_attention_heads % num_key_value_heads == 0,
        detail::concat("num_attention_heads ", num_attention_heads, " is not divisible by num_key_value_heads ",
                       num_key_value_heads));
  check(head_dim() % 2 == 0, detail::concat("head dimension ", head_dim(), " must be even for rotary embeddings"));
}

LlamaConfig read_hf_config(const std::string& path) {
  const std::string file =
      std::filesystem::is_directory(path) ? (std::filesystem::path(path) / "config.json").string() : path;
  std::ifstream in(file);
  if (!in) throw InputError("cannot open '" + file + "' (a Hugging Face model directory holds config.json)");
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(file + ": not valid JSON: " + e.what());
  }
  LlamaConfig config;
  read_field(json, "model_type", &config.model_type, file, true);
  if (config.model_type != "llama" && config.model_type != "mistral" && config.model_type != "qwen2") {
    throw InputError(file + ": model_type '" + config.model_type + "' is not supported (llama, mistral, qwen2)");
  }
  read_field(json, "vocab_size", &config.vocab_size, file, true);
  read_field(json, "hidden_size", &config.hidden_size, file, true);
  read_field(json, "intermediate_size", &config.intermediate_size, file, true);
  read_field(json, "num_hidden_layers", &config.num_hidden_layers, file, true);
  read_field(json, "num_attention_heads", &config.num_attention_heads, file, true);
  config.num_key_value_heads = config.num_attention_heads;
  read_field(json, "num_key_value_heads", &config.num_key_value_heads, file, false);
  read_field(json, "max_position_embeddings", &config.max_position_embeddings, file, false);
  read_field(json, "rms_norm_eps", &config.rms_norm_eps, file, false);
  read_field(json, "rope_theta", &config.rope_theta, file, false);
  read_field(json, "tie_word_embeddings", &config.tie_word_embeddings, file, false);
  config.attention_bias = config.model_type == "qwen2";
  read_field(json, "attention_bias", &config.attention_bias, file, false);
  if (json.contains("rope_scaling") && !json["rope_scaling"].is_null()) {
    throw InputError(file + ": rope_scaling is not supported");
  }
  config.validate(file);
  return config;
}

std::string hf_config_json(const LlamaConfig& config) {
  nlohmann::ordered_json json;
  json["architectures"] = {config.model_type == "qwen2" ? "Qwen2ForCausalLM"
                                                        : (config.model_type == "mistral" ? "MistralForCausalLM"
                                                                                          : "LlamaForCausalLM")};
  json["model_type"] = config.model_type;
  json["vocab_size"] = config.vocab_size;
  json["hidden_size"] = config.hidden_size;
  json["intermediate_size"] = config.intermediate_size;
  json["num_hidden_layers"] = config.num_hidden_layers;
  json["num_attention_heads"] = config.num_attention_heads;
  json["num_key_value_heads"] = config.num_key_value_heads;
  json["max_position_embeddings"] = config.max_position_embeddings;
  json["rms_norm_eps"] = config.rms_norm_eps;
  json["rope_theta"] = config.rope_theta;
  json["tie_word_embeddings"] = config.tie_word_embeddings;
  json["attention_bias"] = config.attention_bias;
  json["hidden_act"] = "silu";
  json["torch_dtype"] = "float32";
  return json.dump(2) + "\n";
}

}  // namespace hllm::models
