// CatalogueEmbedder: the item table that evaluation, serving and hllm_embed rank against. HLLM's items go
// through the Item LLM in fixed chunks of models::kCatalogueChunkItems (the same for any world size, so
// every item's embedding is computed the same way): each model replica (a rank; under pp, a pipeline)
// embeds a contiguous run of chunks through the Item LLM's blocks (under ZeRO-3 each block gathered in
// turn), then the replicas all-gather them; under pp the stage that finishes the Item LLM shares the table
// with the other stages. An ID model's table is its own parameter, gathered whole for the moment under
// ZeRO-3.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <utility>

#include "data/item_token_reader.h"
#include "parallel/topology.h"
#include "runtime/model_placement.h"

namespace hllm::runtime {

class CatalogueEmbedder {
 public:
  // Both must outlive this.
  CatalogueEmbedder(const parallel::Topology& topology, ModelPlacement& model);

  // [items + 1, D] on the model's device, row 0 zero: the dataset's `items` items of `reader` (HLLM) or
  // the ID model's table; the same on every rank. Collective.
  at::Tensor catalogue(const data::ItemTokenReader& reader, int64_t items);
  // HLLM: [M, D] embeddings of items 1..M of `reader` (new items, tokenized as the dataset's), split across
  // the replicas as the catalogue is; the same on every rank. Collective.
  at::Tensor embed(const data::ItemTokenReader& reader, int64_t items);
  // Catalogue items this rank ran through the Item LLM in its last call (its replica's share; stand-ins
  // not counted), for the log and tests.
  int64_t items_embedded() const { return items_embedded_; }

  // This rank's model replica and their number: the ranks, or under pp the pipelines (each of whose stages
  // walks the same chunks and batches).
  static std::pair<int, int> replica(const parallel::Topology& topology);

 private:
  // [items + 1, D]: the ID model's table, row 0 zero.
  at::Tensor id_model_catalogue(int64_t items);

  const parallel::Topology& topology_;
  ModelPlacement& model_;
  int64_t items_embedded_ = 0;
};

}  // namespace hllm::runtime
