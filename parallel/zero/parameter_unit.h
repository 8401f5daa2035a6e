// ParameterUnit: one block's parameters as views of one flat buffer (ShardLayout), and this rank's shard
// of that buffer. It is what ZeRO gathers, frees and reduces as a whole.
//
// Stages 1 and 2 keep the full buffer (state kGathered for good): the shard is a view of it. Stage 3
// ("partitioned") keeps only the shard; the full buffer's memory exists only between start_gather() and
// release(). The parameter tensors keep their shapes all along (they stay views of the buffer, whose
// storage is freed and allocated again), so code that only reads a parameter's shape or dtype works in
// any state, and autograd's saved references to them see the gathered values again when the backward
// gathers the unit a second time.
//
//   kSharded --start_gather--> kGathering --finish_gather--> kGathered --release--> kSharded
//
// Every other transition is a bug and throws hllm::Error naming the unit and both states.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <utility>
#include <vector>

#include "models/layered_model.h"
#include "parallel/comm/communicator.h"
#include "parallel/zero/shard_layout.h"

namespace hllm::parallel::zero {

enum class UnitState { kSharded, kGathering, kGathered };
const char* to_string(UnitState state);

// Elements each parameter's view is aligned to in the flat buffer (64 bytes of float32).
constexpr int64_t kUnitAlignment = 16;

class ParameterUnit {
 public:
  // Moves `parameters` (one dtype, one device; their values the same on every rank) into the flat buffer.
  // `partitioned` (stage 3): frees the full buffer after taking this rank's shard. With `fill`, the
  // values come from it instead of the tensors (which may be placeholders, models/parameter_source.h):
  // partitioned, only this rank's shard is filled and the full buffer is never written, so a rank builds
  // its shard of a model that never exists whole anywhere.
  ParameterUnit(std::string name, std::vector<std::pair<std::string, at::Tensor>> parameters, int dp, int rank,
                bool partitioned, const models::ParameterFill& fill = {});

  const std::string& name() const { return name_; }
  const std::vector<std::pair<std::string, at::Tensor>>& parameters() const { return parameters_; }
  const ShardLayout& layout() const { return layout_; }
  int rank() const { return rank_; }
  bool partitioned() const { return partitioned_; }
  UnitState state() const { return state_; }
  at::ScalarType dtype() const { return full_.scalar_type(); }

  // This rank's shard [shard_numel], in the compute dtype: what the optimizer's update is written into.
  // Partitioned: a tensor of its own; otherwise a view of the full buffer.
  const at::Tensor& shard() const { return shard_; }

  // kSharded -> kGathering: allocates the full buffer and starts the all_gather of every rank's shard.
  void start_gather(Communicator& comm);
  // kGathering -> kGathered: waits for the gather.
  void finish_gather();
  // kGathered -> kSharded: frees the full buffer. `keep_changes`: first copy this rank's part of the full
  // buffer into the shard (after parameters were overwritten while gathered, e.g. loaded).
  void release(bool keep_changes = false);

  // Not partitioned: after the shard was updated, every rank's shard is gathered into the full buffer
  // (blocking; the only gather stages 1 and 2 do).
  void refresh(Communicator& comm);

  // The parameters' gradients packed as the buffer is [buffer_numel] (zeros where a parameter has no
  // gradient, and in the padding), in the gradients' dtype.
  at::Tensor flat_gradient() const;
  void clear_gradients();

  // Bytes this rank holds for the parameters now: the shard, plus the full buffer while it exists.
  int64_t parameter_bytes() const;
  // Bytes of the full buffer (what a gather allocates).
  int64_t full_bytes() const;

 private:
  void expect(UnitState from, const char* transition) const;
  void allocate_full();
  void free_full();

  std::string name_;
  std::vector<std::pair<std::string, at::Tensor>> parameters_;
  ShardLayout layout_;
  int rank_;
  bool partitioned_;
  UnitState state_ = UnitState::kGathered;
  at::Tensor full_;   // [buffer_numel]; its storage is freed while kSharded
  at::Tensor shard_;  // [shard_numel]
  WorkHandle gather_;
};

}  // namespace hllm::parallel::zero
