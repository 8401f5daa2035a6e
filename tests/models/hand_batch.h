// A small hand-made HLLM batch shared by the model tests: two rows of width 4 (S = 3); row 1 is
// left-padded by one; unique items 7, 8, 9, 11 with 3, 2, 4 and 2 tokens (so length buckets pad some rows
// and not others); negatives 9 and 11.
#pragma once

#include "data/batch.h"

namespace hllm::models::test_data {

inline data::Batch hand_batch() {
  data::Batch b;
  b.rows = 2;
  b.width = 4;
  b.real_samples = 2;
  b.items = {7, 8, 9, 8, 0, 11, 7, 9};
  b.mask = {1, 1, 1, 1, 0, 1, 1, 1};
  b.users = {0, 1};
  b.windows = {0, 1};
  b.unique_items = {7, 8, 9, 11};
  b.item_slots = {0, 1, 2, 1, -1, 3, 0, 2};
  b.negatives = {9, 11};
  b.negative_slots = {2, 3};
  b.token_offsets = {0, 3, 5, 9, 11};
  b.tokens = {5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  return b;
}

}  // namespace hllm::models::test_data
