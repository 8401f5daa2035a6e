#include "models/presets.h"

#include <filesystem>

#include "common/error.h"

namespace hllm::models {

LlamaConfig preset_config(const std::string& name, int64_t vocab_size) {
  LlamaConfig c;
  c.vocab_size = vocab_size;
  c.rms_norm_eps = 1e-5;
  c.rope_theta = 10000.0;
  c.tie_word_embeddings = false;
  auto shape = [&](int64_t hidden, int64_t intermediate, int64_t layers, int64_t heads, int64_t kv_heads,
                   int64_t positions) {
    c.hidden_size = hidden;
    c.intermediate_size = intermediate;
    c.num_hidden_layers = layers;
    c.num_attention_heads = heads;
    c.num_key_value_heads = kv_heads;
    c.max_position_embeddings = positions;
  };
  if (name == "debug") {
    shape(32, 64, 2, 4, 2, 512);
  } else if (name == "tiny") {
    shape(128, 344, 4, 4, 4, 1024);
  } else if (name == "1b") {  // TinyLlama-1.1B
    shape(2048, 5632, 22, 32, 4, 2048);
  } else if (name == "7b") {  // Llama-2-7B
    shape(4096, 11008, 32, 32, 32, 4096);
  } else {
    throw InputError("unknown model preset '" + name + "' (debug, tiny, 1b, 7b)");
  }
  c.validate("preset " + name);
  return c;
}

LlamaConfig tower_config(const std::string& source, int64_t vocab_size) {
  if (std::filesystem::is_directory(source)) return read_hf_config(source + "/config.json");
  return preset_config(source, vocab_size);
}

}  // namespace hllm::models
