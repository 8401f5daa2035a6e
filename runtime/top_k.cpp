#include "runtime/top_k.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/error.h"

namespace hllm::runtime {
namespace {

constexpr float kMinusInfinity = -std::numeric_limits<float>::infinity();

// One block's scores on the CPU in float32, the padding row and each user's history set to -inf.
at::Tensor masked_block(const at::Tensor& users, const at::Tensor& rows, int64_t first_row, int64_t from, int64_t to,
                        const std::vector<int64_t>& history_offsets, const std::vector<int64_t>& history_items) {
  const int64_t B = users.size(0), n = to - from;
  at::Tensor scores = scores_over_rows(users, rows, from - first_row, n).to(at::kCPU, at::kFloat).contiguous();
  float* s = scores.data_ptr<float>();
  for (int64_t r = 0; r < B; ++r) {
    if (from == 0) s[r * n] = kMinusInfinity;  // the padding row
    for (int64_t h = history_offsets[r]; h < history_offsets[r + 1]; ++h) {
      const int64_t item = history_items[h] - from;
      if (item >= 0 && item < n) s[r * n + item] = kMinusInfinity;
    }
  }
  return scores;
}

// The listing order: higher scores first, equal scores by lower row (a NaN counts as -inf, so that the
// order stays total).
bool listed_before(float a_score, int64_t a_row, float b_score, int64_t b_row) {
  if (std::isnan(a_score)) a_score = kMinusInfinity;
  if (std::isnan(b_score)) b_score = kMinusInfinity;
  return a_score != b_score ? a_score > b_score : a_row < b_row;
}

// Positions of one row of scores, in the listing order.
struct ListedFirst {
  const float* row;
  bool operator()(int64_t a, int64_t b) const { return listed_before(row[a], a, row[b], b); }
};

void check_history(const at::Tensor& users, const std::vector<int64_t>& history_offsets) {
  HLLM_CHECK(static_cast<int64_t>(history_offsets.size()) == users.size(0) + 1, "top-k: ", history_offsets.size(),
             " history offsets for ", users.size(0), " users");
}

}  // namespace

std::vector<int64_t> score_blocks(int64_t first, int64_t end, const std::vector<int64_t>& cuts, int64_t block_rows) {
  HLLM_CHECK(block_rows >= 1 && first <= end, "score blocks: rows [", first, ", ", end, ") in blocks of ", block_rows);
  std::vector<int64_t> blocks{first};
  for (int64_t row = (first / block_rows + 1) * block_rows; row < end; row += block_rows) blocks.push_back(row);
  for (int64_t cut : cuts) {
    if (cut > first && cut < end) blocks.push_back(cut);
  }
  blocks.push_back(end);
  std::sort(blocks.begin(), blocks.end());
  blocks.erase(std::unique(blocks.begin(), blocks.end()), blocks.end());
  if (blocks.size() == 1) blocks.push_back(end);  // an empty range: one empty block
  return blocks;
}

at::Tensor scores_over_rows(const at::Tensor& users, const at::Tensor& table, int64_t first, int64_t rows) {
  return at::matmul(users, table.slice(0, first, first + rows).t());
}

at::Tensor scores_over_table(const at::Tensor& users, const at::Tensor& table, int64_t chunk_rows) {
  const std::vector<int64_t> blocks = score_blocks(0, table.size(0), {}, chunk_rows);
  std::vector<at::Tensor> parts;
  for (size_t b = 0; b + 1 < blocks.size(); ++b) parts.push_back(scores_over_rows(users, table, blocks[b], blocks[b + 1] - blocks[b]));
  return parts.size() == 1 ? parts.front() : at::cat(parts, 1);
}

at::Tensor masked_scores_over_rows(const at::Tensor& users, const at::Tensor& rows, int64_t first_row,
                                   const std::vector<int64_t>& history_offsets,
                                   const std::vector<int64_t>& history_items, const std::vector<int64_t>& blocks) {
  check_history(users, history_offsets);
  if (blocks.size() == 2) return masked_block(users, rows, first_row, blocks[0], blocks[1], history_offsets, history_items);
  // Filled block by block: a block's scores at a time beside the whole (a million items' scores stay one copy).
  at::Tensor scores = at::empty({users.size(0), blocks.back() - blocks.front()}, at::kFloat);
  for (size_t b = 0; b + 1 < blocks.size(); ++b) {
    scores.slice(1, blocks[b] - blocks.front(), blocks[b + 1] - blocks.front())
        .copy_(masked_block(users, rows, first_row, blocks[b], blocks[b + 1], history_offsets, history_items));
  }
  return scores;
}

TopK top_k_over_rows(const at::Tensor& users, const at::Tensor& rows, int64_t first_row, int64_t k,
                     const std::vector<int64_t>& history_offsets, const std::vector<int64_t>& history_items,
                     const std::vector<int64_t>& blocks) {
  HLLM_CHECK(k >= 1, "top-k: k ", k, " must be positive");
  check_history(users, history_offsets);
  const int64_t B = users.size(0);
  TopK best{at::full({B, 0}, -1, at::kLong), at::full({B, 0}, kMinusInfinity, at::kFloat)};
  for (size_t b = 0; b + 1 < blocks.size(); ++b) {
    const int64_t from = blocks[b], n = blocks[b + 1] - blocks[b];
    if (n == 0) continue;
    const at::Tensor scores = masked_block(users, rows, first_row, from, from + n, history_offsets, history_items);
    // The block's own best (a pass that keeps the k first in the list's order) joined with the best so far.
    const int64_t keep = std::min(k, n);
    TopK block{at::empty({B, keep}, at::kLong), at::empty({B, keep}, at::kFloat)};
    const float* s = scores.data_ptr<float>();
    int64_t* block_index = block.indices.data_ptr<int64_t>();
    float* block_score = block.scores.data_ptr<float>();
    at::parallel_for(0, B, 1, [&](int64_t begin, int64_t end) {
      std::vector<int64_t> order;
      for (int64_t r = begin; r < end; ++r) {
        const float* row = s + r * n;
        const ListedFirst before{row};
        order.clear();
        for (int64_t i = 0; i < keep; ++i) order.push_back(i);
        std::make_heap(order.begin(), order.end(), before);  // the front: the last listed of those kept
        for (int64_t i = keep; i < n; ++i) {
          if (row[i] < row[order.front()] || !before(i, order.front())) continue;  // most rows: one comparison
          std::pop_heap(order.begin(), order.end(), before);
          order.back() = i;
          std::push_heap(order.begin(), order.end(), before);
        }
        std::sort_heap(order.begin(), order.end(), before);
        for (int64_t j = 0; j < keep; ++j) {
          block_index[r * keep + j] = order[j] + from;
          block_score[r * keep + j] = row[order[j]];
        }
      }
    });
    best = merge_top_k({best, block}, k);
  }
  return merge_top_k({best}, k);
}

TopK top_k_over_table(const at::Tensor& users, const at::Tensor& table, int64_t k,
                      const std::vector<int64_t>& history_offsets, const std::vector<int64_t>& history_items,
                      int64_t chunk_rows) {
  return top_k_over_rows(users, table, 0, k, history_offsets, history_items,
                         score_blocks(0, table.size(0), {}, chunk_rows));
}

TopK merge_top_k(const std::vector<TopK>& parts, int64_t k) {
  HLLM_CHECK(!parts.empty(), "top-k: nothing to merge");
  const int64_t B = parts.front().scores.size(0);
  TopK best{at::full({B, k}, -1, at::kLong), at::full({B, k}, kMinusInfinity, at::kFloat)};
  std::vector<TopK> dense;
  for (const TopK& part : parts) {
    HLLM_CHECK(part.scores.size(0) == B && part.indices.sizes() == part.scores.sizes(), "top-k: parts of other shapes");
    dense.push_back(TopK{part.indices.to(at::kCPU, at::kLong).contiguous(), part.scores.to(at::kCPU, at::kFloat).contiguous()});
  }
  int64_t* best_index = best.indices.data_ptr<int64_t>();
  float* best_score = best.scores.data_ptr<float>();
  std::vector<std::pair<float, int64_t>> candidates;
  for (int64_t r = 0; r < B; ++r) {
    candidates.clear();
    for (const TopK& part : dense) {
      const int64_t width = part.scores.size(1);
      const float* scores = part.scores.data_ptr<float>() + r * width;
      const int64_t* indices = part.indices.data_ptr<int64_t>() + r * width;
      for (int64_t j = 0; j < width; ++j) {
        if (scores[j] != kMinusInfinity) candidates.emplace_back(scores[j], indices[j]);
      }
    }
    const size_t keep = std::min<size_t>(static_cast<size_t>(k), candidates.size());
    std::partial_sort(candidates.begin(), candidates.begin() + keep, candidates.end(),
                      [](const auto& a, const auto& b) { return listed_before(a.first, a.second, b.first, b.second); });
    for (size_t j = 0; j < keep; ++j) {
      best_score[r * k + static_cast<int64_t>(j)] = candidates[j].first;
      best_index[r * k + static_cast<int64_t>(j)] = candidates[j].second;
    }
  }
  return best;
}

}  // namespace hllm::runtime
