// A synthetic HLLM training batch for the benchmarks: `rows` sequences of `window` items (every position
// real) and `negatives` negatives drawn from items 1..catalog, each distinct item with `text_tokens` random
// tokens from 1..vocab-1. The same seed gives the same batch.
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <set>

#include "data/batch.h"

namespace hllm::bench {

struct SyntheticBatchShape {
  int rows = 8;
  int window = 11;
  int text_tokens = 32;
  int negatives = 64;
  int64_t catalog = 500;
  int64_t vocab = 1000;
};

inline data::Batch synthetic_batch(const SyntheticBatchShape& shape, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> item(1, shape.catalog), token(1, shape.vocab - 1);
  data::Batch b;
  b.rows = shape.rows;
  b.width = shape.window;
  b.real_samples = shape.rows;
  for (int i = 0; i < shape.rows * shape.window; ++i) b.items.push_back(item(rng));
  for (int k = 0; k < shape.negatives; ++k) b.negatives.push_back(item(rng));
  b.mask.assign(b.items.size(), 1);
  std::set<int64_t> unique(b.items.begin(), b.items.end());
  unique.insert(b.negatives.begin(), b.negatives.end());
  b.unique_items.assign(unique.begin(), unique.end());
  std::map<int64_t, int64_t> slot;
  for (size_t u = 0; u < b.unique_items.size(); ++u) slot[b.unique_items[u]] = static_cast<int64_t>(u);
  for (const auto i : b.items) b.item_slots.push_back(slot.at(i));
  for (const auto n : b.negatives) b.negative_slots.push_back(slot.at(n));
  b.token_offsets.push_back(0);
  for (size_t u = 0; u < b.unique_items.size(); ++u) {
    for (int t = 0; t < shape.text_tokens; ++t) b.tokens.push_back(token(rng));
    b.token_offsets.push_back(static_cast<int64_t>(b.tokens.size()));
  }
  return b;
}

}  // namespace hllm::bench
