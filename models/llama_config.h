// LlamaConfig: the shapes of a LLaMA-family decoder, read from a Hugging Face config.json
// (model_type llama, mistral or qwen2): head_dim, rope_scaling and sliding_window included; anything
// that would change the computation and is not implemented (another activation, MLP biases, another
// rope_scaling type) is refused, naming the key.
#pragma once

#include <cstdint>
#include <string>

namespace hllm::models {

// config.json's rope_scaling: how the rotary frequencies are stretched for contexts longer than the
// pretraining one. "llama3" (Llama-3.1 and later): wavelengths longer than original / low_freq_factor are
// divided by factor, those shorter than original / high_freq_factor kept, a linear blend between;
// "linear": every frequency divided by factor. Others (dynamic, yarn, longrope) are refused when read.
struct RopeScaling {
  std::string type;  // "" (none), "linear" or "llama3"
  double factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

struct LlamaConfig {
  std::string model_type = "llama";
  int64_t vocab_size = 32000;
  int64_t hidden_size = 4096;
  int64_t intermediate_size = 11008;
  int64_t num_hidden_layers = 32;
  int64_t num_attention_heads = 32;
  int64_t num_key_value_heads = 32;
  int64_t max_position_embeddings = 4096;
  double rms_norm_eps = 1e-5;
  double rope_theta = 10000.0;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // q/k/v projections have biases (qwen2)
  int64_t explicit_head_dim = 0;  // config.json's head_dim; 0: hidden_size / num_attention_heads
  RopeScaling rope_scaling;
  // Attention in the windowed layers reaches back at most sliding_window tokens (0: unlimited); the windowed
  // layers are those from first_windowed_layer on (Mistral: all; Qwen2: from max_window_layers, as
  // transformers applies it; or as config.json's layer_types lists them).
  int64_t sliding_window = 0;
  int64_t first_windowed_layer = 0;
  int64_t window_of_layer(int64_t layer) const { return layer >= first_windowed_layer ? sliding_window : 0; }

  int64_t head_dim() const { return explicit_head_dim > 0 ? explicit_head_dim : hidden_size / num_attention_heads; }

  // Throws InputError naming the field when the shapes do not fit together.
  void validate(const std::string& origin) const;
};

// Reads config.json of a Hugging Face model directory (or the file itself). Throws InputError for an
// unsupported model_type or a missing or ill-typed field, naming the file and the field.
LlamaConfig read_hf_config(const std::string& path);

// The config.json text of `config` (what the converter and the exporter write).
std::string hf_config_json(const LlamaConfig& config);

}  // namespace hllm::models
