// CatalogueShard: the item table that evaluation and hllm_recommend rank against, as this rank holds it —
// whole (train.eval_catalogue replicated, or a single replica), or only the slice its replica embedded
// (CatalogueLayout; train.eval_catalogue sharded, the default). Sharded, the users travel instead of the
// table: the replicas exchange their batches' user states and histories, each scores every replica's users
// against its own slice, and an exact merge gives each its users' ranks and top K. Both ways score in the
// same blocks (runtime/top_k.h: cut at the layout's slice boundaries too), so they give the same lists,
// scores and metrics to the last bit.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "data/eval_batch.h"
#include "parallel/comm/communicator.h"
#include "runtime/catalogue_layout.h"
#include "runtime/top_k.h"

namespace hllm::runtime {

class CatalogueShard {
 public:
  // The whole table ([layout.rows(), D], row 0 zero) on this rank: nothing is exchanged.
  static CatalogueShard whole(at::Tensor table, CatalogueLayout layout);
  // Replica `replica`'s slice ([layout.end(r) - layout.begin(r), D]); `device` and `host` are the replicas'
  // communicators (rank r = replica r) for tensors on the model's device and on the CPU. Both must outlive
  // this.
  static CatalogueShard sliced(at::Tensor held, CatalogueLayout layout, int replica, parallel::Communicator& device,
                               parallel::Communicator& host);

  const CatalogueLayout& layout() const { return layout_; }
  bool sharded() const { return device_ != nullptr; }
  int64_t rows() const { return layout_.rows(); }  // of the whole table
  int64_t first_row() const { return first_; }      // of the rows held here
  const at::Tensor& held() const { return held_; }  // [rows held, D] as embedded (the User LLM's inputs)

  // The table rows that batch.items reads (the User LLM's inputs), and the batch with its items renumbered
  // to them. Collective over the replicas when sharded.
  std::pair<at::Tensor, data::EvalBatch> rows_read_by(const data::EvalBatch& batch) const;
  // Each row's rank of its target among the table's unmasked rows (runtime/ranking_metrics.h: the padding
  // row and the history masked, a masked target ranks rows()); filler rows (target 0) rank 0. users: [B, D]
  // unit rows. Collective.
  std::vector<int64_t> target_ranks(const at::Tensor& users, const data::EvalBatch& batch) const;
  // The best k rows of the whole table for each user (runtime/top_k.h). Collective.
  TopK top_k(const at::Tensor& users, const data::EvalBatch& batch, int64_t k) const;

 private:
  // One replica's users as every replica scores them.
  struct Asked {
    at::Tensor users;  // [B, D]
    std::vector<int64_t> targets, history_offsets, history_items;
  };

  CatalogueShard(at::Tensor held, CatalogueLayout layout, int64_t first, parallel::Communicator* device,
                 parallel::Communicator* host);
  // Every replica's users and histories, in replica order (this rank's alone when whole).
  std::vector<Asked> exchange(const at::Tensor& users, const data::EvalBatch& batch) const;

  at::Tensor held_;  // the rows [first_, first_ + held rows) as embedded
  at::Tensor unit_;  // the same at unit length, block by block: the scored table
  CatalogueLayout layout_;
  int64_t first_ = 0;
  std::vector<int64_t> blocks_;  // score_blocks of the rows held
  parallel::Communicator* device_ = nullptr;
  parallel::Communicator* host_ = nullptr;
};

}  // namespace hllm::runtime
