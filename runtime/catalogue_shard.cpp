#include "runtime/catalogue_shard.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include <algorithm>
#include <limits>

#include "common/error.h"
#include "parallel/comm/gather_uneven.h"
#include "runtime/user_scorer.h"

namespace hllm::runtime {

CatalogueShard::CatalogueShard(at::Tensor held, CatalogueLayout layout, int64_t first, parallel::Communicator* device,
                               parallel::Communicator* host)
    : held_(std::move(held)), layout_(std::move(layout)), first_(first), device_(device), host_(host) {
  c10::NoGradGuard no_grad;
  blocks_ = score_blocks(first_, first_ + held_.size(0), layout_.starts);
  std::vector<at::Tensor> unit;
  for (size_t b = 0; b + 1 < blocks_.size(); ++b) {
    unit.push_back(UserScorer::unit_rows(held_.slice(0, blocks_[b] - first_, blocks_[b + 1] - first_)));
  }
  unit_ = unit.size() == 1 ? unit.front() : at::cat(unit, 0);
}

CatalogueShard CatalogueShard::whole(at::Tensor table, CatalogueLayout layout) {
  HLLM_CHECK(table.size(0) == layout.rows(), "catalogue: a table of ", table.size(0), " rows for ", layout.rows());
  return CatalogueShard(std::move(table), std::move(layout), 0, nullptr, nullptr);
}

CatalogueShard CatalogueShard::sliced(at::Tensor held, CatalogueLayout layout, int replica,
                                      parallel::Communicator& device, parallel::Communicator& host) {
  HLLM_CHECK(device.size() == layout.replicas() && host.size() == layout.replicas() && device.rank() == replica &&
                 host.rank() == replica,
             "catalogue: replica ", replica, " of ", layout.replicas(), " on communicators of ", device.size(), " and ",
             host.size(), " ranks");
  HLLM_CHECK(held.size(0) == layout.end(replica) - layout.begin(replica), "catalogue: replica ", replica, " holds ",
             held.size(0), " rows, its slice has ", layout.end(replica) - layout.begin(replica));
  const int64_t first = layout.begin(replica);
  if (layout.replicas() == 1) return whole(std::move(held), std::move(layout));
  return CatalogueShard(std::move(held), std::move(layout), first, &device, &host);
}

std::pair<at::Tensor, data::EvalBatch> CatalogueShard::rows_read_by(const data::EvalBatch& batch) const {
  if (!sharded()) return {held_, batch};
  c10::NoGradGuard no_grad;
  // Every replica learns which rows any of them reads; each sends the ones it holds, so every replica receives
  // them all in row order (the slices are contiguous runs in replica order).
  // Row 0 (the padding) is always read, so that it stays index 0: the User LLM masks item 0.
  std::vector<int64_t> wanted = batch.items;
  wanted.push_back(0);
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
  std::vector<int64_t> rows;
  for (const auto& list : parallel::all_gather_lists(*host_, wanted)) rows.insert(rows.end(), list.begin(), list.end());
  std::sort(rows.begin(), rows.end());
  rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
  HLLM_CHECK(rows.empty() || (rows.front() >= 0 && rows.back() < this->rows()), "catalogue: a history reads row ",
             rows.empty() ? 0 : rows.back(), " of ", this->rows());
  const int64_t D = held_.size(1);
  std::vector<int64_t> counts, mine;
  for (int r = 0; r < layout_.replicas(); ++r) {
    const auto from = std::lower_bound(rows.begin(), rows.end(), layout_.begin(r));
    const auto to = std::lower_bound(rows.begin(), rows.end(), layout_.end(r));
    counts.push_back(D * (to - from));
    if (r == host_->rank()) {
      for (auto row = from; row != to; ++row) mine.push_back(*row - first_);
    }
  }
  const at::Tensor part =
      held_.index_select(0, at::tensor(mine, at::kLong).to(held_.device())).contiguous().view({-1});
  at::Tensor read = at::empty({static_cast<int64_t>(rows.size()) * D}, held_.options());
  device_->all_gather_v(part, read, counts)->wait();
  data::EvalBatch renumbered = batch;
  for (int64_t& item : renumbered.items) item = std::lower_bound(rows.begin(), rows.end(), item) - rows.begin();
  return {read.view({static_cast<int64_t>(rows.size()), D}), std::move(renumbered)};
}

std::vector<CatalogueShard::Asked> CatalogueShard::exchange(const at::Tensor& users,
                                                            const data::EvalBatch& batch) const {
  if (!sharded()) return {Asked{users, batch.targets, batch.history_offsets, batch.history_items}};
  // The histories as one list per replica: rows, the targets, the CSR offsets, the items.
  std::vector<int64_t> mine{static_cast<int64_t>(batch.targets.size())};
  mine.insert(mine.end(), batch.targets.begin(), batch.targets.end());
  mine.insert(mine.end(), batch.history_offsets.begin(), batch.history_offsets.end());
  mine.insert(mine.end(), batch.history_items.begin(), batch.history_items.end());
  std::vector<Asked> asked;
  std::vector<int64_t> counts;
  const int64_t D = users.size(1);
  for (const auto& list : parallel::all_gather_lists(*host_, mine)) {
    const int64_t B = list[0];
    Asked a;
    a.targets.assign(list.begin() + 1, list.begin() + 1 + B);
    a.history_offsets.assign(list.begin() + 1 + B, list.begin() + 2 + 2 * B);
    a.history_items.assign(list.begin() + 2 + 2 * B, list.end());
    counts.push_back(B * D);
    asked.push_back(std::move(a));
  }
  int64_t total = 0;
  for (int64_t n : counts) total += n;
  at::Tensor all = at::empty({total}, users.options());
  device_->all_gather_v(users.contiguous().view({-1}), all, counts)->wait();
  int64_t offset = 0;
  for (size_t q = 0; q < asked.size(); ++q) {
    asked[q].users = all.slice(0, offset, offset + counts[q]).view({-1, D});
    offset += counts[q];
  }
  return asked;
}

std::vector<int64_t> CatalogueShard::target_ranks(const at::Tensor& users, const data::EvalBatch& batch) const {
  c10::NoGradGuard no_grad;
  const std::vector<Asked> asked = exchange(users, batch);
  const float minus_infinity = -std::numeric_limits<float>::infinity();
  const int64_t n = held_.size(0), end = first_ + n;
  std::vector<int64_t> offset{0};
  for (const Asked& a : asked) offset.push_back(offset.back() + static_cast<int64_t>(a.targets.size()));
  std::vector<float> target(static_cast<size_t>(offset.back()));
  at::Tensor above = at::zeros({offset.back()}, at::kLong);
  int64_t* count = above.data_ptr<int64_t>();
  // One replica's users at a time (the scores of one batch against this slice): each target's score from
  // the replica that holds its row (the others add zero), then the rows above it in this slice.
  for (size_t q = 0; q < asked.size(); ++q) {
    const Asked& a = asked[q];
    const int64_t B = static_cast<int64_t>(a.targets.size());
    const at::Tensor scores = masked_scores_over_rows(a.users, unit_, first_, a.history_offsets, a.history_items, blocks_);
    const float* s = scores.data_ptr<float>();
    at::Tensor target_scores = at::zeros({B}, at::kFloat);
    float* t = target_scores.data_ptr<float>();
    for (int64_t r = 0; r < B; ++r) {
      const int64_t item = a.targets[r];
      HLLM_CHECK(item < rows(), "ranking: target ", item, " outside the ", rows(), " scored items");
      if (item > 0 && item >= first_ && item < end) t[r] = s[r * n + item - first_];
    }
    if (sharded()) host_->all_reduce(target_scores, parallel::ReduceOp::kSum)->wait();
    for (int64_t r = 0; r < B; ++r) {
      target[offset[q] + r] = t[r];
      if (a.targets[r] <= 0 || t[r] == minus_infinity) continue;
      int64_t higher = 0;
      for (int64_t i = 0; i < n; ++i) higher += s[r * n + i] > t[r] ? 1 : 0;
      count[offset[q] + r] = higher;
    }
  }
  if (sharded()) host_->all_reduce(above, parallel::ReduceOp::kSum)->wait();
  const int me = sharded() ? host_->rank() : 0;
  std::vector<int64_t> ranks;
  for (size_t r = 0; r < batch.targets.size(); ++r) {
    const int64_t at = offset[me] + static_cast<int64_t>(r);
    ranks.push_back(batch.targets[r] <= 0 ? 0 : target[at] == minus_infinity ? rows() : count[at]);
  }
  return ranks;
}

TopK CatalogueShard::top_k(const at::Tensor& users, const data::EvalBatch& batch, int64_t k) const {
  c10::NoGradGuard no_grad;
  const std::vector<Asked> asked = exchange(users, batch);
  std::vector<at::Tensor> indices, scores;
  for (const Asked& a : asked) {
    const TopK part = top_k_over_rows(a.users, unit_, first_, k, a.history_offsets, a.history_items, blocks_);
    indices.push_back(part.indices);
    scores.push_back(part.scores);
  }
  if (!sharded()) return TopK{indices.front(), scores.front()};
  // Every replica's best of its slice for every replica's users; each keeps its own users' and merges them
  // in replica order (lower rows first).
  const at::Tensor my_indices = at::cat(indices, 0).contiguous(), my_scores = at::cat(scores, 0).contiguous();
  const int R = layout_.replicas();
  const int64_t total = my_indices.size(0);
  at::Tensor all_indices = at::empty({R * total, k}, at::kLong), all_scores = at::empty({R * total, k}, at::kFloat);
  host_->all_gather(my_indices, all_indices)->wait();
  host_->all_gather(my_scores, all_scores)->wait();
  int64_t first_user = 0;
  for (int q = 0; q < host_->rank(); ++q) first_user += static_cast<int64_t>(asked[q].targets.size());
  const int64_t B = static_cast<int64_t>(batch.targets.size());
  std::vector<TopK> parts;
  for (int p = 0; p < R; ++p) {
    const int64_t from = p * total + first_user;
    parts.push_back(TopK{all_indices.slice(0, from, from + B), all_scores.slice(0, from, from + B)});
  }
  return merge_top_k(parts, k);
}

}  // namespace hllm::runtime
