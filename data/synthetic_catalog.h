// A synthetic catalog for the demo and tests (the product ships no third-party data). Items belong to
// categories and carry generated text (title, description, category, brand); users like a few categories
// and drift between them over time, favouring popular items, so both the text and the order of a
// history carry signal a sequential recommender can learn. Same options, same catalog, on any platform.
#pragma once

#include <cstdint>
#include <string>

#include "data/raw_catalog.h"

namespace hllm::data {

struct SyntheticOptions {
  int64_t users = 1000;
  int64_t items = 500;
  uint64_t seed = 1;
  int min_history = 5;   // interactions per user, uniform in [min_history, max_history]
  int max_history = 30;
};

// Parses "users=1000,items=500,seed=1[,min_history=5,max_history=30]"; throws InputError naming the bad part.
SyntheticOptions parse_synthetic_options(const std::string& text);

RawCatalog make_synthetic_catalog(const SyntheticOptions& options);

}  // namespace hllm::data
