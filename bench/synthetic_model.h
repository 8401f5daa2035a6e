// The model the training benchmarks place (runtime/model_placement.h): `config`'s recommender with its own
// random values, for batches of `shape` (bench/synthetic_batch.h) with `prompt` tokens before each text.
#pragma once

#include <cstdint>
#include <vector>

#include "bench/synthetic_batch.h"
#include "common/config/config.h"
#include "models/recommender.h"
#include "runtime/model_placement.h"

namespace hllm::bench {

inline runtime::UnplacedModel synthetic_model(const config::Config& config, const SyntheticBatchShape& shape,
                                              std::vector<int64_t> prompt, int64_t micro_batches = 1) {
  runtime::UnplacedModel unplaced;
  unplaced.shapes = {shape.rows, micro_batches, static_cast<int64_t>(prompt.size()), shape.text_tokens, shape.catalog};
  unplaced.model = models::make_recommender(
      config.model, {static_cast<uint64_t>(config.seed), shape.catalog, shape.vocab, std::move(prompt),
                     config.data.max_item_list_len});
  return unplaced;
}

}  // namespace hllm::bench
