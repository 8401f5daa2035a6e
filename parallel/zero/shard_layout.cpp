#include "parallel/zero/shard_layout.h"

#include <algorithm>

#include "common/error.h"

namespace hllm::parallel {
namespace {

int64_t round_up(int64_t value, int64_t multiple) { return (value + multiple - 1) / multiple * multiple; }

}  // namespace

ShardLayout::ShardLayout(std::vector<int64_t> numels, int dp, int64_t alignment) : numels_(std::move(numels)), dp_(dp) {
  HLLM_CHECK(dp >= 1, "shard layout: dp must be at least 1, got ", dp);
  HLLM_CHECK(alignment >= 1, "shard layout: alignment must be at least 1, got ", alignment);
  int64_t end = 0;
  for (size_t i = 0; i < numels_.size(); ++i) {
    HLLM_CHECK(numels_[i] >= 0, "shard layout: parameter ", i, " has ", numels_[i], " elements");
    const int64_t start = round_up(end, alignment);
    offsets_.push_back(start);
    end = start + numels_[i];
  }
  buffer_numel_ = round_up(end, static_cast<int64_t>(dp) * alignment);
}

int64_t ShardLayout::padding() const {
  int64_t used = 0;
  for (const auto n : numels_) used += n;
  return buffer_numel_ - used;
}

std::pair<int64_t, int64_t> ShardLayout::shard_range(int rank) const {
  HLLM_CHECK(rank >= 0 && rank < dp_, "shard layout: rank ", rank, " outside dp ", dp_);
  return {rank * shard_numel(), (rank + 1) * shard_numel()};
}

std::vector<ShardSegment> ShardLayout::segments_of(int rank) const {
  const auto [begin, end] = shard_range(rank);
  std::vector<ShardSegment> out;
  for (size_t i = 0; i < numels_.size(); ++i) {
    const int64_t first = std::max(begin, offsets_[i]);
    const int64_t last = std::min(end, offsets_[i] + numels_[i]);
    if (first < last) out.push_back({i, first - offsets_[i], first, last - first});
  }
  return out;
}

}  // namespace hllm::parallel
