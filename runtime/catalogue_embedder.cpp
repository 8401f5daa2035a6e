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

at::Tensor CatalogueEmbedder::catalogue(const data::ItemTokenReader& reader, int64_t items) {
  c10::NoGradGuard no_grad;
  if (!model_.recommender().reads_item_tokens()) return id_model_catalogue(items);
  const at::Tensor all = embed(reader, items);
  return at::cat({at::zeros({1, all.size(1)}, all.options()), all}, 0);
}

at::Tensor CatalogueEmbedder::id_model_catalogue(int64_t items) {
  model_.gather_id_model(true);
  // The table is a view of the parameter: copied out (with row 0) before ZeRO-3 frees it again.
  const at::Tensor table = model_.recommender().item_embeddings(1, items + 1, {}, {});
  at::Tensor catalogue = at::cat({at::zeros({1, table.size(1)}, table.options()), table}, 0);
  model_.gather_id_model(false);
  return catalogue;
}

at::Tensor CatalogueEmbedder::embed(const data::ItemTokenReader& reader, int64_t items) {
  c10::NoGradGuard no_grad;
  HLLM_CHECK(model_.recommender().reads_item_tokens(), "an ID model has no embedding for items it never saw");
  // The catalogue is cut into fixed chunks of items (the same for any world size, so every item's
  // embedding is computed the same way), each model replica (a rank; under pp, a pipeline) embeds a
  // contiguous run of chunks through the Item LLM's blocks (under ZeRO-3 each block gathered in turn), then
  // they gather them. Under pp the chunks pass through the stages that hold the Item LLM, and the stage
  // that finishes it shares the catalogue with the other stages.
  const bool pipelined = topology_.pp() > 1;
  parallel::Communicator& replicas = topology_.device_group(pipelined ? parallel::Group::kDp : parallel::Group::kWorld);
  const at::Device device = model_.device();
  const int stage = topology_.stage_id();
  const size_t item_end = model_.towers().item_end;
  const int embedder = model_.stage_of_block(item_end - 1);
  const int64_t chunk = models::kCatalogueChunkItems;
  const int64_t chunks = (items + chunk - 1) / chunk;
  const int R = replicas.size();
  auto first_item_of = [&](int r) { return 1 + std::min(items, chunk * (chunks * r / R)); };
  const int64_t first = first_item_of(replicas.rank());
  const int64_t end = first_item_of(replicas.rank() + 1);
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
    if (stage == embedder && real) parts.push_back(out.at(models::keys::kItemEmbeddings));
  }
  const int64_t hidden = model_.item_embedding_width();
  at::Tensor all;
  if (stage == embedder) {
    // A replica without a chunk still gathers, in the dtype and on the device of the others' embeddings.
    const at::Tensor mine =
        parts.empty() ? at::zeros({0, hidden}, model_.item_embedding_options()) : at::cat(parts, 0).contiguous();
    std::vector<int64_t> counts;
    for (int r = 0; r < replicas.size(); ++r) counts.push_back(hidden * (first_item_of(r + 1) - first_item_of(r)));
    all = mine.view({-1});
    if (replicas.size() > 1) {
      all = at::empty({items * hidden}, mine.options());
      replicas.all_gather_v(mine.view({-1}), all, counts)->wait();
    }
    all = all.view({items, hidden});
  }
  if (pipelined) {  // the other stages learn the dtype, then receive the table
    parallel::Communicator& stages = topology_.device_group(parallel::Group::kPp);
    at::Tensor dtype = at::full({1}, stage == embedder ? static_cast<int64_t>(all.scalar_type()) : 0,
                                at::TensorOptions(at::kLong).device(device));
    stages.broadcast(dtype, embedder)->wait();
    if (stage != embedder) {
      all = at::empty({items, hidden},
                      at::TensorOptions(static_cast<at::ScalarType>(dtype.cpu().item<int64_t>())).device(device));
    }
    stages.broadcast(all, embedder)->wait();
  }
  return all;
}

}  // namespace hllm::runtime
