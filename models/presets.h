// A tower's shape (Item LLM or User LLM) as model.item / model.user name it: a preset trained from scratch
// — `debug` (tests), `tiny` (the CPU demo), `1b` (TinyLlama-1.1B shapes), `7b` (Llama-2-7B shapes) — a
// shape given in the config (config::TowerShape), or a Hugging Face model directory.
#pragma once

#include <string>

#include "common/config/tower_spec.h"
#include "models/llama_config.h"

namespace hllm::models {

// Throws InputError for an unknown name, listing the known ones.
LlamaConfig preset_config(const std::string& name, int64_t vocab_size);
// A shape from the config (resolved: every key set) at `vocab_size`.
LlamaConfig shape_config(const config::TowerShape& shape, int64_t vocab_size);

// True when `spec` names a model directory (its weights are loaded, not drawn).
bool is_model_directory(const config::TowerSpec& spec);

// The tower's shape (HllmModel builds it so): a directory's Hugging Face config.json (InputError naming it
// when missing), else the shape or the preset at `vocab_size`.
LlamaConfig tower_config(const config::TowerSpec& spec, int64_t vocab_size);

// HLLM's item embedding is the User LLM's input, so the towers must have one width. Throws InputError naming
// model.item and model.user with their widths (hllm_launch and hllm_sweep's validation refuse alike).
void check_tower_widths(const config::TowerSpec& item, const config::TowerSpec& user);

}  // namespace hllm::models
