// Evaluator: the paper's protocol on a ModelPlacement — the catalogue embedded once (split across the
// model's replicas and all-gathered), users split across them, full ranking with the user's history
// masked, Recall@K / NDCG@K (K = 5, 10, 50, 200) summed over ranks — and the popularity baseline.
// HLLM runs its Item LLM and User LLM as ranges of the chain (ModelPlacement::forward: ZeRO-3 gathers block
// by block, pipeline stages pass activations on); an ID model (SASRec, HSTU) runs whole by its own methods.
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
#include "runtime/model_placement.h"

namespace hllm::runtime {

class Evaluator {
 public:
  // All must outlive this.
  Evaluator(const config::Config& config, const parallel::Topology& topology, const data::Dataset& dataset,
            ModelPlacement& model);

  // [num_items + 1, D] on the model's device, row 0 zero; the same on every rank. Collective.
  at::Tensor catalog_embeddings();
  // HLLM: [M, D] embeddings of items 1..M of `reader` (new items, tokenized as the dataset's), through the
  // Item LLM as the catalogue goes (split across the replicas); the same on every rank. Collective.
  at::Tensor item_embeddings(const data::ItemTokenReader& reader);
  // The metrics of the model's current parameters on `split`; with `catalog` from catalog_embeddings()
  // (embedded once for several splits) or embedded here. Collective.
  std::map<std::string, double> evaluate(data::EvalSplit split);
  std::map<std::string, double> evaluate(const at::Tensor& catalog, data::EvalSplit split);
  // The users' states after their histories (batch.items: rows of `catalog`, which may extend the dataset's
  // items with new ones), scaled to unit length: [B, D] on the stage that finishes the User LLM (undefined on
  // the other pipeline stages). Collective over the model's replicas, as evaluate().
  at::Tensor user_embeddings(const at::Tensor& catalog, const data::EvalBatch& batch);
  // Keeps an ID model whole (under ZeRO-3) across the user_embeddings calls that follow, instead of a gather
  // per batch; `false` shards it again. Nothing for HLLM, which gathers block by block. Collective.
  void keep_id_model_whole(bool whole);
  // This rank's model replica and their number. Users and the catalogue's chunks are split across the
  // replicas: the ranks, or under pp the pipelines (each of whose stages walks the same batches).
  std::pair<int, int> replica() const;
  // Rows scaled to unit length: scores are cosines, as the model is trained (InfoNCE on unit vectors).
  static at::Tensor unit_rows(const at::Tensor& rows);
  // The same metrics for the popularity baseline: every user gets the items ranked by how often they occur
  // in the training part of all sequences. Collective.
  std::map<std::string, double> evaluate_popularity(data::EvalSplit split);
  // The dataset's cold items (held out of training), and what the model knows of them, for the report.
  int64_t cold_items() const;
  std::string cold_items_note() const;
  // Catalogue items this rank ran through the Item LLM in its last catalog_embeddings() (its replica's
  // share; stand-ins not counted), for the log and tests.
  int64_t items_embedded() const { return items_embedded_; }

 private:
  // Ranks every evaluation user with score_rows(batch) -> [B, num_items + 1] (undefined on a pipeline stage
  // that does not score); metrics summed over ranks. With cold items, also "cold.<metric>" over the users
  // whose target is cold and "warm.<metric>" over the others, with "cold.users" / "warm.users".
  std::map<std::string, double> rank_users(data::EvalSplit split,
                                           const std::function<at::Tensor(const data::EvalBatch&)>& score_rows);
  // [num_items + 1, D]: an ID model's item table (whole for the moment under ZeRO-3).
  at::Tensor id_model_catalog();
  // [items, D]: this replica's run of the chunks of items 1..items of `reader` through the Item LLM,
  // all-gathered over the replicas (and, under pp, sent from the stage that finishes it to the others).
  at::Tensor item_llm_catalog(const data::ItemTokenReader& reader, int64_t items);

  const config::Config& config_;
  const parallel::Topology& topology_;
  const data::Dataset& dataset_;
  ModelPlacement& model_;
  int64_t items_embedded_ = 0;
  bool id_model_whole_ = false;
  const std::vector<uint8_t> cold_;  // the dataset's cold items (empty: none)
};

}  // namespace hllm::runtime
