// CatalogueEmbedder: the item table that evaluation, serving and hllm_embed rank against. HLLM's items go
// through the Item LLM in fixed chunks of models::kCatalogueChunkItems (the same for any world size, so
// every item's embedding is computed the same way): each model replica (a rank; under pp, a pipeline)
// embeds its slice of the table (runtime/catalogue_layout.h: a contiguous run of chunks) through the Item
// LLM's blocks (under ZeRO-3 each block gathered in turn). Evaluation keeps the slices where they were
// computed (shard(): train.eval_catalogue sharded) or all-gathers them (catalogue()); under pp the stage
// that finishes the Item LLM shares them with the other stages. An ID model's table is its own parameter,
// gathered whole for the moment under ZeRO-3 and copied out (its slice, when sharded).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <utility>

#include "data/item_token_reader.h"
#include "parallel/topology.h"
#include "runtime/catalogue_layout.h"
#include "runtime/catalogue_shard.h"
#include "runtime/model_placement.h"

namespace hllm::runtime {

class CatalogueEmbedder {
 public:
  // Both must outlive this.
  CatalogueEmbedder(const parallel::Topology& topology, ModelPlacement& model);

  // [items + 1, D] on the model's device, row 0 zero: the dataset's `items` items of `reader` (HLLM) or
  // the ID model's table; the same on every rank. Collective.
  at::Tensor catalogue(const data::ItemTokenReader& reader, int64_t items);
  // The table as evaluation holds it: this replica's slice (`sharded`, every stage of a pipeline holding
  // its pipeline's), or the whole of catalogue(). Collective.
  CatalogueShard shard(const data::ItemTokenReader& reader, int64_t items, bool sharded);
  // A table given whole ([rows, D], row 0 zero; e.g. read from hllm_embed's file) held as shard() holds
  // the catalogue: this replica's slice (a copy) or the whole.
  CatalogueShard hold(const at::Tensor& table, bool sharded) const;
  // The slices of a table of `items` items over this layout's replicas.
  CatalogueLayout layout(int64_t items) const;
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
  // Rows [first, end) of the ID model's table with row 0 zero (a copy).
  at::Tensor id_model_rows(int64_t items, int64_t first, int64_t end);
  // On the stage that finishes the Item LLM: [this replica's items, D], its slice of `layout` without the
  // padding row (undefined on the other stages). Collective.
  at::Tensor embed_own_items(const data::ItemTokenReader& reader, const CatalogueLayout& layout);
  // Under pp, `rows` ([count, D]) from the stage that finishes the Item LLM on every stage of the pipeline.
  at::Tensor share_across_stages(at::Tensor rows, int64_t count);
  int embedding_stage() const;

  const parallel::Topology& topology_;
  ModelPlacement& model_;
  int64_t items_embedded_ = 0;
};

}  // namespace hllm::runtime
