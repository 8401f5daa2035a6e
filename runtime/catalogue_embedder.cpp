#include "runtime/catalogue_embedder.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "common/error.h"
#include "models/activation_keys.h"
#include "models/model_plan.h"

namespace hllm::runtime {

CatalogueEmbedder::CatalogueEmbedder(const parallel::Topology& topology, ModelPlacement& model)
    : topology_(topology), model_(model) {}

std::pair<int, int> CatalogueEmbedder::replica(const parallel::Topology& topology) {
  if (topology.pp() > 1) return {topology.dp_index(), topology.dp()};
  return {topology.world().rank(), topology.world().size()};
}

CatalogueLayout CatalogueEmbedder::layout(int64_t items) const {
  return CatalogueLayout::of(items, replica(topology_).second);
}

at::Tensor CatalogueEmbedder::catalogue(const data::ItemTokenReader& reader, int64_t items) {
  c10::NoGradGuard no_grad;
  if (!model_.recommender().reads_item_tokens()) return id_model_rows(items, 0, items + 1);
  const at::Tensor all = embed(reader, items);
  return at::cat({at::zeros({1, all.size(1)}, all.options()), all}, 0);
}

CatalogueShard CatalogueEmbedder::shard(const data::ItemTokenReader& reader, int64_t items, bool sharded) {
  c10::NoGradGuard no_grad;
  const CatalogueLayout layout = this->layout(items);
  if (!sharded) return CatalogueShard::whole(catalogue(reader, items), layout);
  const int mine = replica(topology_).first;
  const int64_t first = layout.begin(mine), end = layout.end(mine);
  at::Tensor held;
  if (!model_.recommender().reads_item_tokens()) {
    held = id_model_rows(items, first, end);
  } else {
    held = embed_own_items(reader, layout);
    if (held.defined() && mine == 0) held = at::cat({at::zeros({1, held.size(1)}, held.options()), held}, 0);
    held = share_across_stages(held, end - first);
  }
  const parallel::Group group = topology_.pp() > 1 ? parallel::Group::kDp : parallel::Group::kWorld;
  return CatalogueShard::sliced(held, layout, mine, topology_.device_group(group), topology_.group(group));
}

CatalogueShard CatalogueEmbedder::hold(const at::Tensor& table, bool sharded) const {
  const CatalogueLayout layout = this->layout(table.size(0) - 1);
  if (!sharded) return CatalogueShard::whole(table, layout);
  const int mine = replica(topology_).first;
  const parallel::Group group = topology_.pp() > 1 ? parallel::Group::kDp : parallel::Group::kWorld;
  return CatalogueShard::sliced(table.slice(0, layout.begin(mine), layout.end(mine)).clone(), layout, mine,
                                topology_.device_group(group), topology_.group(group));
}

at::Tensor CatalogueEmbedder::id_model_rows(int64_t items, int64_t first, int64_t end) {
  HLLM_CHECK(0 <= first && first <= end && end <= items + 1, "catalogue rows [", first, ", ", end, ") of ", items, " items");
  model_.gather_id_model(true);
  // The table is a view of the parameter: copied out (with row 0) before ZeRO-3 frees it again.
  const at::Tensor table = model_.recommender().item_embeddings(std::max<int64_t>(first, 1), end, {}, {});
  at::Tensor rows = first == 0 ? at::cat({at::zeros({1, table.size(1)}, table.options()), table}, 0) : table.clone();
  model_.gather_id_model(false);
  return rows;
}

at::Tensor CatalogueEmbedder::embed_own_items(const data::ItemTokenReader& reader, const CatalogueLayout& layout) {
  // Each model replica (a rank; under pp, a pipeline) embeds its contiguous run of the layout's chunks through
  // the Item LLM's blocks (under ZeRO-3 each block gathered in turn). Under pp the chunks pass through the
  // stages that hold the Item LLM.
  const at::Device device = model_.device();
  const int stage = topology_.stage_id();
  const size_t item_end = model_.towers().item_end;
  const int64_t chunk = models::kCatalogueChunkItems;
  const int R = layout.replicas(), mine = replica(topology_).first;
  const int64_t first = layout.first_item(mine), end = layout.end(mine);
  const int64_t chunks = (layout.rows() - 1 + chunk - 1) / chunk;
  // Every replica runs as many chunks as the busiest one: ZeRO-3's gathers inside the blocks are collective
  // over the data-parallel group. A replica whose own chunks are done runs a one-item stand-in and drops it.
  const int64_t rounds = (chunks + R - 1) / R;
  std::vector<at::Tensor> parts;
  items_embedded_ = 0;
  for (int64_t round = 0; round < rounds; ++round) {
    const int64_t from = first + round * chunk;
    const bool real = from < end;
    const int64_t begin_item = real ? from : 1, count = real ? std::min(end, from + chunk) - from : 1;
    models::Activations inputs;
    if (stage == 0) {  // the only stage that reads item text
      std::vector<int64_t> ids(static_cast<size_t>(count)), offsets, tokens;
      std::iota(ids.begin(), ids.end(), begin_item);
      reader.read(ids, &offsets, &tokens);
      inputs = {{models::keys::kTokenOffsets, at::tensor(offsets, at::kLong).to(device)},
                {models::keys::kTokens, at::tensor(tokens, at::kLong).to(device)}};
    }
    if (real && stage == 0) items_embedded_ += count;
    models::Activations out = model_.forward(0, item_end, std::move(inputs));
    if (stage == embedding_stage() && real) parts.push_back(out.at(models::keys::kItemEmbeddings));
  }
  if (stage != embedding_stage()) return at::Tensor();
  // A replica without a chunk still has its (empty) rows, in the dtype and on the device of the others'.
  return parts.empty() ? at::zeros({0, model_.item_embedding_width()}, model_.item_embedding_options())
                       : at::cat(parts, 0).contiguous();
}

int CatalogueEmbedder::embedding_stage() const { return model_.stage_of_block(model_.towers().item_end - 1); }

at::Tensor CatalogueEmbedder::share_across_stages(at::Tensor rows, int64_t count) {
  if (topology_.pp() == 1) return rows;
  // The other stages learn the dtype, then receive the rows.
  parallel::Communicator& stages = topology_.device_group(parallel::Group::kPp);
  const bool embedder = topology_.stage_id() == embedding_stage();
  const at::Device device = model_.device();
  at::Tensor dtype = at::full({1}, embedder ? static_cast<int64_t>(rows.scalar_type()) : 0,
                              at::TensorOptions(at::kLong).device(device));
  stages.broadcast(dtype, embedding_stage())->wait();
  if (!embedder) {
    rows = at::empty({count, model_.item_embedding_width()},
                     at::TensorOptions(static_cast<at::ScalarType>(dtype.cpu().item<int64_t>())).device(device));
  }
  stages.broadcast(rows, embedding_stage())->wait();
  return rows;
}

at::Tensor CatalogueEmbedder::embed(const data::ItemTokenReader& reader, int64_t items) {
  c10::NoGradGuard no_grad;
  HLLM_CHECK(model_.recommender().reads_item_tokens(), "an ID model has no embedding for items it never saw");
  // The replicas embed their slices, then gather them; under pp the stage that finishes the Item LLM shares
  // the whole with the other stages.
  const CatalogueLayout layout = this->layout(items);
  const at::Tensor mine = embed_own_items(reader, layout);
  at::Tensor all;
  if (mine.defined()) {
    const int64_t hidden = mine.size(1);
    std::vector<int64_t> counts;
    for (int r = 0; r < layout.replicas(); ++r) counts.push_back(hidden * (layout.end(r) - layout.first_item(r)));
    all = mine.view({-1});
    if (layout.replicas() > 1) {
      parallel::Communicator& replicas =
          topology_.device_group(topology_.pp() > 1 ? parallel::Group::kDp : parallel::Group::kWorld);
      all = at::empty({items * hidden}, mine.options());
      replicas.all_gather_v(mine.view({-1}), all, counts)->wait();
    }
    all = all.view({items, hidden});
  }
  return share_across_stages(all, items);
}

}  // namespace hllm::runtime
