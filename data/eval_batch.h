// EvalBatch: one batch of users for full-ranking evaluation or serving, as data/eval_loader.h cuts them —
// what a model reads to compute user states, beside data/batch.h's training Batch (the two batch types
// models/ sees of data/).
#pragma once

#include <cstdint>
#include <vector>

namespace hllm::data {

struct EvalBatch {
  int64_t index = 0;
  int64_t real_samples = 0;  // the first rows; the rest are filler (user -1, target 0, empty mask)
  int rows = 0;
  int width = 0;  // S

  std::vector<int64_t> users;            // [B] global user index, -1 for filler
  std::vector<int64_t> items;            // [B, S] last S history items, left-padded with 0
  std::vector<int64_t> timestamps;       // [B, S] seconds of the history items, 0 for padding
  std::vector<uint8_t> mask;             // [B, S]
  std::vector<int64_t> target_timestamps;  // [B] when the target was consumed (0 for filler)
  std::vector<int64_t> targets;          // [B] the item to rank, 0 for filler
  std::vector<int64_t> history_offsets;  // [B+1] CSR over history_items
  std::vector<int64_t> history_items;    // the whole history before the target (items to mask)
};

}  // namespace hllm::data
