// BlockRunner: runs a model's blocks (models/layered_model.h) for training with ZeRO and activation
// checkpointing applied from outside the model.
//
// ZeRO (stage >= 1): each block with parameters is a ParameterUnit. The gradients of a micro-batch are
// reduce-scattered (mean over the data-parallel group) into float32 gradient shards, one per unit:
//   stage 1  once per optimizer step, from the full gradients accumulated over its micro-batches;
//   stage 2  after every micro-batch, unit by unit as the backward completes each (overlapped with the
//            backward of earlier blocks), so no full gradient outlives its unit's backward;
//   stage 3  as stage 2, and the parameters themselves are sharded: a unit is all-gathered before its
//            block runs, in forward and again in backward, and freed after. The gathers of the next units
//            (by stage3_prefetch_bucket_size, bounded by stage3_max_live_parameters) are issued before the
//            current block computes.
// Collectives must come in the same order on every rank, whatever the order in which its autograd engine
// reaches the blocks: gathers are issued strictly in unit order (forward: first to last; backward: last to
// first; a unit that a rank's backward skips is still gathered when its turn comes), and reductions in
// backward order as each unit and every later one are complete. Gathers and reductions have communicators
// of their own, so they interleave freely.
//
// The optimizer (runtime/) reads the gradient shards and writes the units' shards; refresh_parameters()
// then brings stages 1 and 2's full buffers up to date.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "models/layered_model.h"
#include "parallel/comm/communicator.h"
#include "parallel/gradient_ready.h"
#include "parallel/zero/parameter_unit.h"

namespace hllm::parallel::zero {

struct RunnerOptions {
  int stage = 0;                    // 0: no sharding (gradients stay the caller's); 1-3: ZeRO
  std::vector<bool> recompute;      // per block: activation checkpointing; empty = none
  double prefetch_elements = 5e7;   // stage 3
  double max_live_elements = 1e9;   // stage 3
  models::ParameterFill initial_values;  // the units' values by slices (a model built without them), or empty
};

// Elements moved per rank, counted as the full buffers involved (ZeRO's accounting: a gather or a
// reduce-scatter of Ψ elements moves Ψ (dp - 1) / dp of them over each rank's link).
struct CommunicationCount {
  int64_t gathered = 0;  // all_gather output elements (stage 3: forward and backward; stages 1-2: refresh)
  int64_t reduced = 0;   // reduce_scatter input elements
  double wait_seconds = 0;  // time this rank blocked waiting for them (communication not hidden)
};

class BlockRunner {
 public:
  // `blocks` must outlive the runner. With stage >= 1, `gather` and `reduce` are communicators over the
  // data-parallel group (distinct, so their collectives do not need a common order). Throws hllm::Error
  // when recompute is given for another number of blocks.
  BlockRunner(const models::Blocks& blocks, RunnerOptions options, int dp, int dp_rank, Communicator* gather,
              Communicator* reduce);
  ~BlockRunner();
  BlockRunner(const BlockRunner&) = delete;
  BlockRunner& operator=(const BlockRunner&) = delete;

  // Runs every block on `activations` (the forward of one micro-batch).
  void forward(models::Activations& activations);
  // Around the backward of that micro-batch. `completes_step`: the last micro-batch of the optimizer step.
  void begin_backward(bool completes_step);
  void end_backward(bool completes_step);

  // Runs blocks [first, end) without autograd (evaluation). Stage 3 gathers each unit before its block as
  // training does (the next units' gathers issued ahead, within the range) and frees it after, so at most
  // the prefetch window is whole at any time. Every rank of the data-parallel group must make the same
  // calls (the gathers are collective).
  void forward_without_grad(size_t first, size_t end, models::Activations& activations);

  // Stage 3: every unit gathered / freed again; `keep_changes` writes parameters changed meanwhile back
  // into the shards. No-ops below stage 3. Collective.
  void gather_all();
  void release_all(bool keep_changes = false);
  // Stage 3: one unit gathered / freed (saving, block by block). Collective.
  void gather_unit(size_t unit);
  void release_unit(size_t unit);
  // The unit that holds block `b`'s parameters, or -1 (no parameters, or below stage 1).
  int64_t unit_of_block(size_t b) const { return unit_of_block_[b]; }
  // Stages 1-2: every rank's updated shard into the full buffers. Collective.
  void refresh_parameters();

  int stage() const { return options_.stage; }
  std::vector<ParameterUnit>& units() { return units_; }
  const std::vector<ParameterUnit>& units() const { return units_; }
  // Per unit: the float32 mean gradient of this rank's shard, accumulated over the step's micro-batches.
  std::vector<at::Tensor>& gradient_shards() { return gradient_shards_; }
  const CommunicationCount& communication() const { return communication_; }
  // Stage 1: bytes of the full gradients that were accumulated over the last step's micro-batches.
  int64_t full_gradient_bytes() const { return full_gradient_bytes_; }
  void reset_communication() { communication_ = {}; }

 private:
  struct PendingReduce {
    size_t unit;
    WorkHandle work;
    at::Tensor input, output;
  };
  struct HookTarget;

  void run_block(size_t b, models::Activations& activations);
  void before_forward(size_t unit);
  void before_backward(size_t unit);
  void issue_gather(size_t unit);
  void wait_gathered(size_t unit);
  void launch_ready_reductions();
  void launch_reduction(size_t unit);
  void finish_reduction();

  const models::Blocks& blocks_;
  RunnerOptions options_;
  Communicator* gather_;
  Communicator* reduce_;
  std::vector<ParameterUnit> units_;
  std::vector<int64_t> unit_of_block_;  // -1: a block without parameters
  std::vector<at::Tensor> gradient_shards_;
  std::vector<bool> launched_;            // per unit, this backward
  int64_t next_forward_gather_ = 0;       // next unit whose forward gather is to be issued
  int64_t forward_end_unit_ = 0;          // forward gathers stop before this unit (the range's end)
  int64_t next_backward_gather_ = -1;     // next unit (downwards) whose backward gather is to be issued
  int64_t next_reduction_ = -1;           // next unit (downwards) to reduce
  std::deque<PendingReduce> pending_;
  CommunicationCount communication_;
  int64_t full_gradient_bytes_ = 0;
  std::shared_ptr<HookTarget> hook_target_;            // the activations' hooks (stage 3's backward gathers)
  std::unique_ptr<GradientReadiness> readiness_;        // stages 2-3: units reduced as their gradients complete
};

}  // namespace hllm::parallel::zero
