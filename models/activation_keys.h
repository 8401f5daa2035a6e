// The names of the activations (models/layered_model.h) that code outside a model's blocks writes or reads:
// what the runtime feeds the towers' ranges of HLLM's chain (runtime/evaluator.h), what it takes out, and
// the loss every chain ends with (the training step, the pipeline's last stage). Named once here, so a key
// the blocks and their callers disagree on is a compile error rather than a missing map entry at run time.
// Keys only the blocks pass among themselves (per-bucket tensors) stay inside models/hllm_blocks.cpp.
#pragma once

namespace hllm::models::keys {

inline constexpr const char* kLoss = "loss";                        // scalar: the chain's last block
inline constexpr const char* kLossHealth = "loss_health";           // [kHealthFields] (info_nce.h), detached
inline constexpr const char* kTokenOffsets = "token_offsets";       // [U + 1]: the Item LLM's input, CSR
inline constexpr const char* kTokens = "tokens";                    // [sum]: the items' text tokens
inline constexpr const char* kItemEmbeddings = "item_embeddings";   // [U, D]: the Item LLM's output
inline constexpr const char* kItemSlots = "item_slots";             // [B, W]: the User LLM's input rows
inline constexpr const char* kMask = "mask";                        // [B, W]: the real positions
inline constexpr const char* kUserSequences = "user_sequences";     // [B, W, D]: the sequences built from them
inline constexpr const char* kUserSequenceMask = "user_sequence_mask";
inline constexpr const char* kUserStates = "user_states";           // [B, W, D]: the User LLM's output

}  // namespace hllm::models::keys
