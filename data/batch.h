// Batch: one micro-batch of HLLM training samples. Every distinct item of the batch (positives and
// negatives, padding excluded) appears once in `unique_items` with its tokens, so the Item LLM encodes
// each item once; index maps place the embeddings back into sequences and negatives.
//
// Plain vectors, row-major, no LibTorch: data/ must stay free of LibTorch because Debian's
// SentencePiece (used by data/tokenizer) embeds a protobuf that cannot share a process with LibTorch's
// (docs/ARCHITECTURE.md, "Two protobufs"). The consumer turns a Batch into tensors.
#pragma once

#include <cstdint>
#include <vector>

namespace hllm::data {

struct Batch {
  int64_t epoch = 0;
  int64_t index = 0;         // batch number within the epoch
  int64_t real_samples = 0;  // rows that are real windows; the rest (at the end, or skipped windows) are filler
  int rows = 0;              // B
  int width = 0;             // S + 1

  std::vector<int64_t> items;           // [B, S+1] item index per position, left-padded with 0
  std::vector<int64_t> timestamps;      // [B, S+1] seconds of each item, 0 for padding
  std::vector<uint8_t> mask;            // [B, S+1] 1 where items != 0
  std::vector<int64_t> users;           // [B] global user index, -1 for filler rows
  std::vector<int64_t> windows;         // [B] global training-window index, -1 for filler rows
  std::vector<int64_t> negatives;       // [N] item indices, uniform in [1, num_items] (over the warm items when the dataset has cold ones)
  std::vector<int64_t> unique_items;    // [U] distinct non-padding items of items and negatives, ascending
  std::vector<int64_t> item_slots;      // [B, S+1] row of unique_items for each position, -1 for padding
  std::vector<int64_t> negative_slots;  // [N] row of unique_items for each negative
  std::vector<int64_t> token_offsets;   // [U+1] unique item u's tokens are tokens[offsets[u]:offsets[u+1]]
  std::vector<int64_t> tokens;          // [T] text tokens (no prompt, truncated to the dataset's max_text_len);
                                        // none (offsets all 0) when LoaderOptions::read_item_tokens is off
};

}  // namespace hllm::data
