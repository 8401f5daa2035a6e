// hllm_export's work: a checkpoint's HLLM model as two Hugging Face directories, streamed tensor by
// tensor (memory bounded by the largest tensor, not the model):
//   OUT/item/config.json, OUT/item/model.safetensors   the Item LLM (LLaMA layout, its token table) and
//                                                       "item_token", the learned [ITEM] embedding
//   OUT/user/config.json, OUT/user/model.safetensors   the User LLM (no token table: it reads item
//                                                       embeddings) and "logit_scale"
// float32 checkpoints export float32 (from the masters when the run was bf16). A new run starts from the
// export with model.item = OUT/item and model.user = OUT/user (models/hllm_model.h reads the extras back).
#pragma once

#include <string>

namespace hllm::checkpoint {

// Throws InputError when the checkpoint is not an HLLM run's or does not verify; `out` must not exist.
void export_hf(const std::string& checkpoint_directory, const std::string& out);

}  // namespace hllm::checkpoint
