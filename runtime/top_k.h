// Exact top-K recommendations over an item table, or a slice of it, scored block by block so that the score
// matrix never exceeds users × block rows (a million items stay bounded), each user's history and the
// padding row masked as evaluation masks them (runtime/ranking_metrics.h). Equal scores list the lower row
// first, at the K-th place too, so the lists are the same however the table is cut. Blocks begin at fixed
// rows of the whole table (every kTopKChunkRows, and wherever the caller cuts, e.g. the catalogue's slice
// boundaries), so a table held whole and the same table held in slices are scored by the same products and
// their floats agree to the last bit.
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

// The block boundaries over table rows [first, end): first, every multiple of block_rows and every row of
// `cuts` inside, then end.
std::vector<int64_t> score_blocks(int64_t first, int64_t end, const std::vector<int64_t>& cuts = {},
                                  int64_t block_rows = kTopKChunkRows);

// The scores of users [B, D] against table rows [first, first + rows): what ranking and evaluation both
// compute, block by block at the same boundaries, so that their floats agree to the last bit.
at::Tensor scores_over_rows(const at::Tensor& users, const at::Tensor& table, int64_t first, int64_t rows);
// users · tableᵀ over every row, [B, I], made of the same blocks as top_k_over_table's.
at::Tensor scores_over_table(const at::Tensor& users, const at::Tensor& table, int64_t chunk_rows = kTopKChunkRows);

// users: [B, D]; rows: [n, D], the table's rows [first_row, first_row + n) (row 0 is padding, never
// recommended); `blocks`: score_blocks over those rows. Scores are users · rowsᵀ, computed in the tensors'
// dtype on their device. history CSR (table rows): user r masks history_items[history_offsets[r] ..
// history_offsets[r + 1]). Indices are rows of the whole table.
TopK top_k_over_rows(const at::Tensor& users, const at::Tensor& rows, int64_t first_row, int64_t k,
                     const std::vector<int64_t>& history_offsets, const std::vector<int64_t>& history_items,
                     const std::vector<int64_t>& blocks);
// The same over a whole table, in blocks of chunk_rows.
TopK top_k_over_table(const at::Tensor& users, const at::Tensor& table, int64_t k,
                      const std::vector<int64_t>& history_offsets, const std::vector<int64_t>& history_items,
                      int64_t chunk_rows = kTopKChunkRows);
// [B, n] float32 on the CPU: the scores of top_k_over_rows, with the padding row and each user's history
// set to -inf (what the ranking metrics count against).
at::Tensor masked_scores_over_rows(const at::Tensor& users, const at::Tensor& rows, int64_t first_row,
                                   const std::vector<int64_t>& history_offsets,
                                   const std::vector<int64_t>& history_items, const std::vector<int64_t>& blocks);

// The best k of `parts` (each [B, k_p]; -inf entries dropped), in the listing order: higher scores first,
// equal scores by lower row; the rest index -1 and score -inf.
TopK merge_top_k(const std::vector<TopK>& parts, int64_t k);

}  // namespace hllm::runtime
