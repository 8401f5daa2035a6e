// ShardLayout: how one block's parameters lie in a flat buffer and how ZeRO splits that buffer across the
// data-parallel ranks. Pure arithmetic, no tensors. Parameters are packed in order, each starting at a
// multiple of `alignment` elements (so a parameter's view of the buffer is aligned for vectorised kernels),
// and the buffer is padded to a multiple of dp × alignment, so every rank's shard has the same size
// (reduce-scatter and all-gather need equal pieces) and starts aligned. A shard may cut through
// parameters; segments_of(rank) lists the pieces of parameters that a rank's shard holds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace hllm::parallel {

// A run of one parameter's elements inside a rank's shard.
struct ShardSegment {
  size_t parameter = 0;          // index into the layout's parameters
  int64_t parameter_offset = 0;  // first element, within the parameter
  int64_t buffer_offset = 0;     // first element, within the flat buffer
  int64_t length = 0;            // elements
};

class ShardLayout {
 public:
  // `numels`: elements of each parameter, in order (0 allowed). Throws hllm::Error for dp < 1,
  // alignment < 1 or a negative size.
  ShardLayout(std::vector<int64_t> numels, int dp, int64_t alignment = 1);

  int dp() const { return dp_; }
  size_t parameters() const { return numels_.size(); }
  int64_t numel(size_t parameter) const { return numels_[parameter]; }
  int64_t offset(size_t parameter) const { return offsets_[parameter]; }  // first element in the buffer
  int64_t buffer_numel() const { return buffer_numel_; }  // padded: a multiple of dp × alignment
  int64_t shard_numel() const { return buffer_numel_ / dp_; }
  int64_t padding() const;  // buffer elements that belong to no parameter (alignment gaps and the tail)

  // [begin, end) of `rank`'s shard in the buffer.
  std::pair<int64_t, int64_t> shard_range(int rank) const;
  // The parameter pieces inside `rank`'s shard, in buffer order.
  std::vector<ShardSegment> segments_of(int rank) const;

 private:
  std::vector<int64_t> numels_;
  std::vector<int64_t> offsets_;
  int dp_;
  int64_t buffer_numel_ = 0;
};

}  // namespace hllm::parallel
