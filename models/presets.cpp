#include "models/presets.h"

#include <filesystem>
#include <utility>

#include "common/error.h"

namespace hllm::models {

LlamaConfig shape_config(const config::TowerShape& shape, int64_t vocab_size) {
  LlamaConfig c;
  c.vocab_size = vocab_size;
  c.rms_norm_eps = 1e-5;
  c.rope_theta = 10000.0;
  c.tie_word_embeddings = false;
  c.hidden_size = shape.hidden_size;
  c.intermediate_size = shape.intermediate_size;
  c.num_hidden_layers = shape.num_layers;
  c.num_attention_heads = shape.num_heads;
  c.num_key_value_heads = shape.num_kv_heads;
  c.max_position_embeddings = 2048;  // what an export's config.json says; RoPE itself has no limit
  return c;
}

LlamaConfig preset_config(const std::string& name, int64_t vocab_size) {
  const auto shape = [](int64_t hidden, int64_t intermediate, int64_t layers, int64_t heads, int64_t kv_heads,
                        int64_t positions) {
    return std::make_pair(config::TowerShape{hidden, layers, heads, kv_heads, intermediate}, positions);
  };
  std::pair<config::TowerShape, int64_t> s;
  if (name == "debug") {
    s = shape(32, 64, 2, 4, 2, 512);
  } else if (name == "tiny") {
    s = shape(128, 344, 4, 4, 4, 1024);
  } else if (name == "1b") {  // TinyLlama-1.1B
    s = shape(2048, 5632, 22, 32, 4, 2048);
  } else if (name == "7b") {  // Llama-2-7B
    s = shape(4096, 11008, 32, 32, 32, 4096);
  } else {
    throw InputError("unknown model preset '" + name + "' (debug, tiny, 1b, 7b)");
  }
  LlamaConfig c = shape_config(s.first, vocab_size);
  c.max_position_embeddings = s.second;
  c.validate("preset " + name);
  return c;
}

bool is_model_directory(const config::TowerSpec& spec) {
  return !spec.shape && std::filesystem::is_directory(spec.source);
}

LlamaConfig tower_config(const config::TowerSpec& spec, int64_t vocab_size) {
  if (is_model_directory(spec)) return read_hf_config(spec.source + "/config.json");
  if (spec.shape) {
    LlamaConfig c = shape_config(*spec.shape, vocab_size);
    c.validate("shape " + spec.describe());
    return c;
  }
  return preset_config(spec.source, vocab_size);
}

void check_tower_widths(const config::TowerSpec& item, const config::TowerSpec& user) {
  const int64_t any_vocabulary = 32000;  // widths do not depend on it
  const int64_t item_width = tower_config(item, any_vocabulary).hidden_size;
  const int64_t user_width = tower_config(user, any_vocabulary).hidden_size;
  if (item_width != user_width) {
    throw InputError(detail::concat("model.item ('", item.describe(), "') has hidden size ", item_width,
                                    " and model.user ('", user.describe(), "') has ", user_width,
                                    ": the item embedding is the User LLM's input, so the widths must match"));
  }
}

}  // namespace hllm::models
