// Batch: one micro-batch of HLLM training samples as the model consumes it. Every distinct item of the
// batch (positives and negatives, padding excluded) appears once in `unique_items` with its tokens, so
// the Item LLM encodes each item once; index maps place the embeddings back into sequences and negatives.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace hllm::data {

struct Batch {
  int64_t epoch = 0;
  int64_t index = 0;         // batch number within the epoch
  int64_t real_samples = 0;  // rows that are real windows; the rest are filler with an all-false mask

  at::Tensor items;           // [B, S+1] int64 item index per position, left-padded with 0
  at::Tensor mask;            // [B, S+1] bool, true where items != 0
  at::Tensor users;           // [B] int64 global user index, -1 for filler rows
  at::Tensor negatives;       // [N] int64 item indices, uniform in [1, num_items]
  at::Tensor unique_items;    // [U] int64 distinct non-padding items of items and negatives, ascending
  at::Tensor item_slots;      // [B, S+1] int64 row of unique_items for each position, -1 for padding
  at::Tensor negative_slots;  // [N] int64 row of unique_items for each negative
  at::Tensor token_offsets;   // [U+1] int64: unique item u's tokens are tokens[offsets[u]:offsets[u+1]]
  at::Tensor tokens;          // [T] int64 text tokens (no prompt, truncated to the dataset's max_text_len)
};

}  // namespace hllm::data
