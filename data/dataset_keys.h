// The data.* keys that hllm_prepare fixes — max_text_len, item_prompt, text_keys: the items are tokenized
// with them once, so a training config cannot change them, only state what it expects. Each is checked
// against the dataset's meta.json (a different value is an InputError naming the key, both values and the
// hllm_prepare flag that sets it); left at its default it means the dataset's value.
#pragma once

#include "common/config/config.h"
#include "data/dataset.h"

namespace hllm::data {

// Throws InputError listing every key of `config` that differs from `dataset`'s.
void check_dataset_keys(const config::DataConfig& config, const Dataset& dataset);

// The text tokens per item: the dataset's max_text_len.
int64_t dataset_text_tokens(const Dataset& dataset);

}  // namespace hllm::data
