// HllmModel as blocks (models/layered_model.h):
//
//   item_embedding      token_offsets, tokens        -> item_x.b, item_mask.b, item_cos.b, item_sin.b per
//                                                       length bucket b, item_buckets, item_inverse_order
//   item_layer.{i}      item_x.b                     -> item_x.b
//   item_output         item_x.b                     -> item_embeddings [U, D]  (final norm, [ITEM] row)
//   user_input          item_embeddings, item_slots, mask -> user_x.0, user_mask.0, user_cos.0, user_sin.0,
//                                                       user_sequences
//   user_layer.{j}      user_x.0                     -> user_x.0
//   user_output         user_x.0                     -> user_states
//   loss                user_states, user_sequences, user_mask, item_embeddings, negative_slots -> loss, top_1/5/10,
//                       loss_health (when something was predicted)
//
// The blocks share the model's tensors, so running them gives the model's forward exactly. Inputs no later
// block reads are erased by the block that reads them last (tokens, a tower's per-bucket tensors, the
// slots and mask once the sequences are built), so what crosses a pipeline stage boundary is only what
// the rest of the chain needs.
#pragma once

#include "data/batch.h"
#include "models/hllm_model.h"
#include "models/layered_model.h"

namespace hllm::models {

// The blocks of `model` (which must outlive them). `gather_negatives` is used by the loss block.
Blocks hllm_blocks(const HllmModel& model, NegativeGather gather_negatives = {});

// Where the towers lie in that chain: blocks [0, item_end) turn item tokens into item_embeddings (the
// Item LLM), blocks [user_begin, user_end) turn item_embeddings, item_slots and mask into user_states
// (the User LLM). Evaluation runs these two ranges.
struct TowerRanges {
  size_t item_end = 0, user_begin = 0, user_end = 0;
};
TowerRanges hllm_tower_ranges(const HllmModel& model);

// The inputs the first block reads, from a batch.
Activations hllm_activations(const data::Batch& batch, const at::Device& device);

}  // namespace hllm::models
