// Exact top-K recommendations over a whole item table, scored chunk by chunk so that the score matrix never
// exceeds users × chunk_rows (a million items stay bounded), each user's history and the padding row masked
// as evaluation masks them (runtime/ranking_metrics.h). Equal scores list the lower row first, except that
// among items tied exactly at the K-th place either may be kept.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace hllm::runtime {

struct TopK {
  // [B, K] on the CPU, best first; a row has fewer than K real entries when fewer items are left unmasked:
  // the rest have index -1 and score -inf.
  at::Tensor indices;  // int64, rows of the table
  at::Tensor scores;   // float32
};

constexpr int64_t kTopKChunkRows = 65536;

// The scores of users [B, D] against table rows [first, first + rows): what ranking and evaluation both
// compute, chunk by chunk at the same boundaries, so that their floats agree to the last bit.
at::Tensor scores_over_rows(const at::Tensor& users, const at::Tensor& table, int64_t first, int64_t rows);
// users · tableᵀ over every row, [B, I], made of the same chunks as top_k_over_table's.
at::Tensor scores_over_table(const at::Tensor& users, const at::Tensor& table, int64_t chunk_rows = kTopKChunkRows);

// users: [B, D]; table: [I, D] (row 0 is padding, never recommended); scores are users · tableᵀ, computed in
// the tensors' dtype on their device as evaluation computes them. history CSR: row r masks
// history_items[history_offsets[r] .. history_offsets[r + 1]).
TopK top_k_over_table(const at::Tensor& users, const at::Tensor& table, int64_t k,
                      const std::vector<int64_t>& history_offsets, const std::vector<int64_t>& history_items,
                      int64_t chunk_rows = kTopKChunkRows);

}  // namespace hllm::runtime
