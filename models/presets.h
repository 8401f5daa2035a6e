// Size presets for a tower (Item LLM or User LLM) trained from scratch: `debug` (tests), `tiny` (the CPU
// demo), `1b` (TinyLlama-1.1B shapes), `7b` (Llama-2-7B shapes).
#pragma once

#include <string>

#include "models/llama_config.h"

namespace hllm::models {

// Throws InputError for an unknown name, listing the known ones.
LlamaConfig preset_config(const std::string& name, int64_t vocab_size);

// A tower's shape as model.item / model.user name it (HllmModel builds it so): a directory's Hugging
// Face config.json (InputError naming it when missing), else the preset at `vocab_size`.
LlamaConfig tower_config(const std::string& source, int64_t vocab_size);

}  // namespace hllm::models
