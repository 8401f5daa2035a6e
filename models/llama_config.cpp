#include "models/llama_config.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "common/json_input.h"

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

void read_rope_scaling(const nlohmann::json& json, const std::string& file, RopeScaling* out) {
  const auto it = json.find("rope_scaling");
  if (it == json.end() || it->is_null()) return;
  if (!it->is_object()) throw InputError(file + ": 'rope_scaling' must be an object, got " + it->dump());
  const std::string origin = file + ": rope_scaling";
  std::string type;
  read_field(*it, "rope_type", &type, origin, false);
  if (type.empty()) read_field(*it, "type", &type, origin, false);  // the key's name before transformers 4.45
  if (type == "default") return;
  if (type != "llama3" && type != "linear") {
    throw InputError(origin + ": rope_type '" + type + "' is not supported (llama3, linear)");
  }
  out->type = type;
  read_field(*it, "factor", &out->factor, origin, true);
  if (type == "llama3") {
    read_field(*it, "low_freq_factor", &out->low_freq_factor, origin, true);
    read_field(*it, "high_freq_factor", &out->high_freq_factor, origin, true);
    read_field(*it, "original_max_position_embeddings", &out->original_max_position_embeddings, origin, true);
  }
}

// layer_types (newer configs list each layer's attention): "full_attention" layers, then "sliding_attention"
// ones, is the same rule as max_window_layers; a sliding layer before a full one cannot be expressed here.
void read_layer_types(const nlohmann::json& json, const std::string& file, LlamaConfig* config) {
  const auto it = json.find("layer_types");
  if (it == json.end() || it->is_null()) return;
  const auto count = static_cast<size_t>(config->num_hidden_layers);
  if (!it->is_array() || it->size() != count) {
    throw InputError(detail::concat(file, ": layer_types must be a list of ", count,
                                    " entries (one per layer, num_hidden_layers)"));
  }
  int64_t first_sliding = config->num_hidden_layers;
  for (size_t i = 0; i < count; ++i) {
    const auto& type = (*it)[i];
    const bool sliding = type == "sliding_attention";
    if (!sliding && type != "full_attention") {
      throw InputError(detail::concat(file, ": layer_types[", i, "] is ", json_excerpt(type),
                                      " (full_attention or sliding_attention are supported)"));
    }
    if (sliding && first_sliding == config->num_hidden_layers) first_sliding = static_cast<int64_t>(i);
    if (!sliding && first_sliding < config->num_hidden_layers) {
      throw InputError(detail::concat(file, ": layer_types[", i, "] is full_attention after sliding_attention at ",
                                      first_sliding, " (supported: full layers, then sliding ones)"));
    }
  }
  config->first_windowed_layer = first_sliding;
}

}  // namespace

void LlamaConfig::validate(const std::string& origin) const {
  auto check = [&](bool ok, const std::string& what) {
    if (!ok) throw InputError(origin + ": " + what);
  };
  check(vocab_size > 0 && hidden_size > 0 && intermediate_size > 0 && num_hidden_layers > 0,
        "vocab_size, hidden_size, intermediate_size and num_hidden_layers must be positive");
  check(num_attention_heads > 0 && (explicit_head_dim > 0 || hidden_size % num_attention_heads == 0),
        detail::concat("hidden_size ", hidden_size, " is not divisible by num_attention_heads ", num_attention_heads));
  check(explicit_head_dim >= 0, detail::concat("head_dim ", explicit_head_dim, " is negative"));
  check(sliding_window >= 0, detail::concat("sliding_window ", sliding_window, " is negative"));
  check(first_windowed_layer >= 0, detail::concat("max_window_layers ", first_windowed_layer, " is negative"));
  if (!rope_scaling.type.empty()) {
    check(rope_scaling.factor >= 1.0, detail::concat("rope_scaling.factor ", rope_scaling.factor, " is below 1"));
  }
  if (rope_scaling.type == "llama3") {
    check(rope_scaling.high_freq_factor > rope_scaling.low_freq_factor && rope_scaling.low_freq_factor > 0 &&
              rope_scaling.original_max_position_embeddings > 0,
          detail::concat("rope_scaling: high_freq_factor ", rope_scaling.high_freq_factor,
                         " must exceed low_freq_factor ", rope_scaling.low_freq_factor,
                         " (> 0), and original_max_position_embeddings be positive"));
  }
  check(num_key_value_heads > 0 && num_attention_heads % num_key_value_heads == 0,
        detail::concat("num_attention_heads ", num_attention_heads, " is not divisible by num_key_value_heads ",
                       num_key_value_heads));
  check(head_dim() % 2 == 0, detail::concat("head dimension ", head_dim(), " must be even for rotary embeddings"));
}

LlamaConfig read_hf_config(const std::string& path) {
  const std::string file =
      std::filesystem::is_directory(path) ? (std::filesystem::path(path) / "config.json").string() : path;
  if (!std::ifstream(file)) throw InputError("cannot open '" + file + "' (a Hugging Face model directory holds config.json)");
  const nlohmann::json json = read_json_file(file);
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
  read_field(json, "head_dim", &config.explicit_head_dim, file, false);
  std::string activation = "silu";
  read_field(json, "hidden_act", &activation, file, false);
  if (activation != "silu") throw InputError(file + ": hidden_act '" + activation + "' is not supported (silu)");
  bool mlp_bias = false;
  read_field(json, "mlp_bias", &mlp_bias, file, false);
  if (mlp_bias) throw InputError(file + ": mlp_bias true is not supported (the MLP has no biases here)");
  read_rope_scaling(json, file, &config.rope_scaling);
  // Qwen2 configs carry a sliding_window that applies only with use_sliding_window, and then only to the
  // layers from max_window_layers on (transformers' default 28); Mistral's applies to every layer.
  bool use_sliding_window = config.model_type != "qwen2";
  read_field(json, "use_sliding_window", &use_sliding_window, file, false);
  if (use_sliding_window) read_field(json, "sliding_window", &config.sliding_window, file, false);
  if (config.model_type == "qwen2") {
    config.first_windowed_layer = 28;
    read_field(json, "max_window_layers", &config.first_windowed_layer, file, false);
  }
  read_layer_types(json, file, &config);
  if (config.first_windowed_layer >= config.num_hidden_layers) config.sliding_window = 0;  // no layer is windowed
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
  if (config.explicit_head_dim > 0) json["head_dim"] = config.explicit_head_dim;
  if (!config.rope_scaling.type.empty()) {
    const RopeScaling& r = config.rope_scaling;
    json["rope_scaling"] = {{"rope_type", r.type}, {"factor", r.factor}};
    if (r.type == "llama3") {
      json["rope_scaling"]["low_freq_factor"] = r.low_freq_factor;
      json["rope_scaling"]["high_freq_factor"] = r.high_freq_factor;
      json["rope_scaling"]["original_max_position_embeddings"] = r.original_max_position_embeddings;
    }
  }
  if (config.sliding_window > 0) json["sliding_window"] = config.sliding_window;
  if (config.model_type == "qwen2") {
    json["use_sliding_window"] = config.sliding_window > 0;
    json["max_window_layers"] = config.first_windowed_layer;
  }
  if (config.sliding_window > 0 && config.first_windowed_layer > 0) {  // which layers, for any model type
    for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
      json["layer_types"].push_back(i >= config.first_windowed_layer ? "sliding_attention" : "full_attention");
    }
  }
  json["hidden_act"] = "silu";
  json["torch_dtype"] = "float32";
  return json.dump(2) + "\n";
}

}  // namespace hllm::models
