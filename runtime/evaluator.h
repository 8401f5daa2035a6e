// Evaluator: the paper's protocol on a ModelPlacement — the catalogue embedded once (CatalogueEmbedder:
// split across the model's replicas, each keeping its slice or all of them: CatalogueShard), users split
// across them and scored (UserScorer: their states after their histories, unit length), full ranking with
// the user's history masked (each replica ranking every replica's users against its slice, when sharded),
// Recall@K / NDCG@K (K = 5, 10, 50, 200) summed over ranks — and the popularity baseline. Its catalogue
// and user paths are also what hllm_embed and hllm_recommend run.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <map>
#include <string>

#include "common/config/config.h"
#include "data/dataset.h"
#include "data/eval_loader.h"
#include "data/item_token_reader.h"
#include "parallel/topology.h"
#include "runtime/catalogue_embedder.h"
#include "runtime/model_placement.h"
#include "runtime/user_scorer.h"

namespace hllm::runtime {

class Evaluator {
 public:
  // All must outlive this.
  Evaluator(const config::Config& config, const parallel::Topology& topology, const data::Dataset& dataset,
            ModelPlacement& model);

  // [num_items + 1, D] on the model's device, row 0 zero; the same on every rank. Collective.
  at::Tensor catalog_embeddings();
  // The catalogue as evaluation holds it (train.eval_catalogue): this replica's slice, or the whole.
  // Collective.
  CatalogueShard catalogue();
  // A whole table (row 0 zero; the catalogue with new items, from hllm_embed's file) held as catalogue()
  // holds it.
  CatalogueShard hold(const at::Tensor& table) const { return embedder_.hold(table, sharded()); }
  // HLLM: [M, D] embeddings of items 1..M of `reader` (new items, tokenized as the dataset's), through the
  // Item LLM as the catalogue goes (split across the replicas); the same on every rank. Collective.
  at::Tensor item_embeddings(const data::ItemTokenReader& reader) { return embedder_.embed(reader, reader.num_items()); }
  // The metrics of the model's current parameters on `split`; with `catalogue` from catalogue() (embedded
  // once for several splits) or embedded here. Collective.
  std::map<std::string, double> evaluate(data::EvalSplit split);
  std::map<std::string, double> evaluate(const CatalogueShard& catalogue, data::EvalSplit split);
  // The users' states (runtime/user_scorer.h) and how users and chunks are split across the replicas.
  UserScorer& scorer() { return scorer_; }
  std::pair<int, int> replica() const { return CatalogueEmbedder::replica(topology_); }
  // The same metrics for the popularity baseline: every user gets the items ranked by how often they occur
  // in the training part of all sequences. Collective.
  std::map<std::string, double> evaluate_popularity(data::EvalSplit split);
  // The dataset's cold items (held out of training), and what the model knows of them, for the report.
  int64_t cold_items() const;
  std::string cold_items_note() const;
  // Catalogue items this rank ran through the Item LLM in its last catalogue (its replica's share;
  // stand-ins not counted), for the log and tests.
  int64_t items_embedded() const { return embedder_.items_embedded(); }

 private:
  // Ranks every evaluation user with ranks_of(batch) -> each row's rank of its target (RankingMetrics::
  // ranks; false on a pipeline stage that does not score); metrics summed over ranks. With cold items, also
  // "cold.<metric>" over the users whose target is cold and "warm.<metric>" over the others, with
  // "cold.users" / "warm.users".
  bool sharded() const { return config_.train.eval_catalogue == config::CatalogueHolding::kSharded; }
  std::map<std::string, double> rank_users(
      data::EvalSplit split, const std::function<bool(const data::EvalBatch&, std::vector<int64_t>*)>& ranks_of);

  const config::Config& config_;
  const parallel::Topology& topology_;
  const data::Dataset& dataset_;
  ModelPlacement& model_;
  CatalogueEmbedder embedder_;
  UserScorer scorer_;
  const std::vector<uint8_t> cold_;  // the dataset's cold items (empty: none)
};

}  // namespace hllm::runtime
