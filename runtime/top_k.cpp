#include "runtime/top_k.h"

#include <ATen/ATen.h>

#include <limits>

#include "common/error.h"

namespace hllm::runtime {

at::Tensor scores_over_rows(const at::Tensor& users, const at::Tensor& table, int64_t first, int64_t rows) {
  return at::matmul(users, table.slice(0, first, first + rows).t());
}

at::Tensor scores_over_table(const at::Tensor& users, const at::Tensor& table, int64_t chunk_rows) {
  std::vector<at::Tensor> chunks;
  for (int64_t first = 0; first < table.size(0); first += chunk_rows) {
    chunks.push_back(scores_over_rows(users, table, first, std::min(chunk_rows, table.size(0) - first)));
  }
  return chunks.size() == 1 ? chunks.front() : at::cat(chunks, 1);
}

TopK top_k_over_table(const at::Tensor& users, const at::Tensor& table, int64_t k,
                      const std::vector<int64_t>& history_offsets, const std::vector<int64_t>& history_items,
                      int64_t chunk_rows) {
  const int64_t B = users.size(0), I = table.size(0);
  HLLM_CHECK(k >= 1 && chunk_rows >= 1, "top-k: k ", k, " and chunk rows ", chunk_rows, " must be positive");
  HLLM_CHECK(static_cast<int64_t>(history_offsets.size()) == B + 1, "top-k: ", history_offsets.size(),
             " history offsets for ", B, " users");
  const float minus_infinity = -std::numeric_limits<float>::infinity();
  TopK best{at::full({B, 0}, -1, at::kLong), at::full({B, 0}, minus_infinity, at::kFloat)};
  for (int64_t first = 0; first < I; first += chunk_rows) {
    const int64_t rows = std::min(chunk_rows, I - first);
    at::Tensor scores = scores_over_rows(users, table, first, rows).to(at::kCPU, at::kFloat).contiguous();
    float* s = scores.data_ptr<float>();
    for (int64_t r = 0; r < B; ++r) {
      if (first == 0) s[r * rows] = minus_infinity;  // the padding row
      for (int64_t h = history_offsets[r]; h < history_offsets[r + 1]; ++h) {
        const int64_t item = history_items[h] - first;
        if (item >= 0 && item < rows) s[r * rows + item] = minus_infinity;
      }
    }
    // The chunk's own best joined with the best so far (which come first, so a stable sort keeps the lower
    // row first among equal scores).
    const auto [chunk_scores, chunk_rows_taken] = scores.topk(std::min(k, rows), 1);
    const at::Tensor indices = at::cat({best.indices, chunk_rows_taken + first}, 1);
    const at::Tensor candidates = at::cat({best.scores, chunk_scores}, 1);
    const auto [sorted, order] = candidates.sort(/*stable=*/true, /*dim=*/1, /*descending=*/true);
    const int64_t keep = std::min<int64_t>(k, candidates.size(1));
    best = {indices.gather(1, order.slice(1, 0, keep)).contiguous(), sorted.slice(1, 0, keep).contiguous()};
  }
  if (best.scores.size(1) < k) {  // a table of fewer than k rows
    const int64_t missing = k - best.scores.size(1);
    best = {at::cat({best.indices, at::full({B, missing}, -1, at::kLong)}, 1),
            at::cat({best.scores, at::full({B, missing}, minus_infinity, at::kFloat)}, 1)};
  }
  best.indices = best.indices.masked_fill(best.scores.eq(minus_infinity), -1);
  return best;
}

}  // namespace hllm::runtime
