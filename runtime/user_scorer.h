// UserScorer: users' states after their histories, scaled to unit length, as evaluation ranks them and
// hllm_recommend serves them — the model's own way (Recommender::evaluation_user_states: HLLM's User LLM
// range through the placement, under pp through its stages; an ID model's forward), with the model held as
// the placement holds it (an ID model gathered whole under ZeRO-3, once for many batches when asked).
#pragma once

#include <ATen/core/Tensor.h>

#include "data/eval_batch.h"
#include "parallel/topology.h"
#include "runtime/catalogue_shard.h"
#include "runtime/model_placement.h"

namespace hllm::runtime {

class UserScorer {
 public:
  // Both must outlive this.
  UserScorer(const parallel::Topology& topology, ModelPlacement& model);

  // [B, D] on the stage that finishes the model (undefined on the other pipeline stages): the states of
  // `batch`'s users (batch.items: rows of `catalogue`'s table, which may extend the dataset's items with new
  // ones; a sharded table sends the rows the User LLM reads to the replicas that read them). Collective
  // over the model's replicas.
  at::Tensor user_embeddings(const CatalogueShard& catalogue, const data::EvalBatch& batch);
  // Keeps an ID model whole (under ZeRO-3) across the user_embeddings calls that follow, instead of a
  // gather per batch; `false` shards it again. Nothing for HLLM, which gathers block by block. Collective.
  void keep_id_model_whole(bool whole);

  // Rows scaled to unit length: scores are cosines, as the model is trained (InfoNCE on unit vectors).
  static at::Tensor unit_rows(const at::Tensor& rows);

 private:
  const parallel::Topology& topology_;
  ModelPlacement& model_;
  bool id_model_whole_ = false;
};

}  // namespace hllm::runtime
