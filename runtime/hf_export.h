// hllm_export's work: a checkpoint's HLLM model as two Hugging Face directories, streamed tensor by
// tensor (memory bounded by the largest tensor, not the model):
//   OUT/item/config.json, OUT/item/model.safetensors   the Item LLM (LLaMA layout, its token table) and
//                                                       "item_token", the learned [ITEM] embedding
//   OUT/user/config.json, OUT/user/model.safetensors   the User LLM (no token table: it reads item
//                                                       embeddings) and "logit_scale"
// float32 checkpoints export float32 (from the masters when the run was bf16). A tower larger than
// `max_shard_bytes` is written as Hugging Face writes large models: model-00001-of-0000N.safetensors ...
// (tensors in order, a file closed before the next would pass the limit; a larger tensor alone) and
// model.safetensors.index.json (metadata.total_size, weight_map: tensor -> file). A new run starts from
// the export with model.item = OUT/item and model.user = OUT/user (models/hllm_model.h reads the extras
// back, from one file or the shards).
#pragma once

#include <cstdint>
#include <string>

namespace hllm::runtime {

// Hugging Face's default shard size (save_pretrained's "5GB").
constexpr int64_t kDefaultMaxShardBytes = 5'000'000'000;

// Throws InputError when the checkpoint is not an HLLM run's or does not verify; `out` must not exist.
void export_hf(const std::string& checkpoint_directory, const std::string& out,
               int64_t max_shard_bytes = kDefaultMaxShardBytes);

// "5GB", "500MB", "2GiB", "100KB" or a number of bytes; InputError naming the text otherwise.
int64_t parse_byte_size(const std::string& text);

}  // namespace hllm::runtime
