// Full-ranking metrics of the paper's protocol (DESIGN.md "Evaluation"): every item is scored, the padding
// item and every item of the user's history are masked out, and the target's rank decides Recall@K (hit
// rate) and NDCG@K = 1 / log2(rank + 2) when rank < K (rank 0 = first). Rank counts the unmasked items scoring
// strictly higher than the target. As in the reference, a target that also appears in the history is
// masked with it (a miss).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace hllm::runtime {

class RankingMetrics {
 public:
  explicit RankingMetrics(std::vector<int64_t> ks = {5, 10, 50, 200});

  // scores: [B, I] (column 0 = padding); targets: [B] (0 = filler row, skipped); history CSR:
  // history_offsets [B+1], history_items (indices into the columns).
  void add(const at::Tensor& scores, const std::vector<int64_t>& targets, const std::vector<int64_t>& history_offsets,
           const std::vector<int64_t>& history_items);
  // The same, given each row's rank (runtime/catalogue_shard.h counts them over a sharded table).
  void add_ranks(const std::vector<int64_t>& ranks, const std::vector<int64_t>& targets);
  // Each row's rank of its target among the unmasked items (I when the target is masked; 0 for a filler row).
  static std::vector<int64_t> ranks(const at::Tensor& scores, const std::vector<int64_t>& targets,
                                    const std::vector<int64_t>& history_offsets,
                                    const std::vector<int64_t>& history_items);

  // Sums as a flat vector (users, then recall and ndcg per k), for an all_reduce across ranks; and back.
  std::vector<double> sums() const;
  void set_sums(const std::vector<double>& sums);

  int64_t users() const { return users_; }
  // "recall@5", "ndcg@5", ... averaged over users.
  std::map<std::string, double> averages() const;

 private:
  std::vector<int64_t> ks_;
  int64_t users_ = 0;
  std::vector<double> recall_;
  std::vector<double> ndcg_;
};

}  // namespace hllm::runtime
