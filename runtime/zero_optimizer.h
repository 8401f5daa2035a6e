// ZeroOptimizer: AdamW on this rank's shards (ZeRO stages 1-3). Each unit's shard has a float32 master
// (the shard itself in float32 training; a float32 copy of the bfloat16 shard under bf16) and Adam
// moments for the shard only. The optimizer sees the pieces of parameters inside the shard (by parameter
// name, decayed as the whole parameter would be), with the runner's float32 gradient shards as gradients.
// Clipping and the finite check are global: squared norms and flags are summed over the data-parallel
// group (and, under pipeline parallelism, over the pipeline's stages). After the update the shards are written back in the compute dtype and, for stages 1-2, gathered
// into the full parameters.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <vector>

#include "checkpoint/state.h"
#include "parallel/comm/communicator.h"
#include "parallel/zero/block_runner.h"
#include "runtime/adamw.h"
#include "runtime/optimizer.h"

namespace hllm::runtime {

class ZeroOptimizer : public Optimizer {
 public:
  // `dp`: a communicator over the data-parallel group for tensors on the training device. `pipeline`
  // (host scalars; may be null): the stages of this rank's pipeline, whose norms and flags join in.
  ZeroOptimizer(parallel::zero::BlockRunner& runner, const AdamWOptions& options, parallel::Communicator& dp,
                parallel::Communicator* pipeline = nullptr);

  // The global L2 norm of the (averaged) gradients; scaled to max_norm when above it and max_norm > 0.
  double clip_gradient_norm(double max_norm) override;
  bool gradients_finite() override;
  std::vector<at::Tensor> gradients() override;
  void step(double lr) override;
  void zero_grad() override;
  int64_t steps() const override { return adam_->steps(); }
  void set_steps(int64_t steps) override { adam_->set_steps(steps); }

  // This rank's state as pieces of global tensors (checkpoint/state.h): per parameter piece of the shard,
  // "param.<name>" (compute dtype), "master.<name>" (bf16 only), "adam.m.<name>", "adam.v.<name>".
  // The same pieces for saving and loading.
  std::vector<checkpoint::StatePiece> state_pieces(bool for_loading = false) override;
  // After the pieces were loaded: masters from the shards or the shards from the masters, the full
  // parameters of stages 1-2 gathered again. `masters_loaded`: the masters were read (else from params).
  void after_load(bool masters_loaded) override;
  // Stages 1-2: every rank's restored shard into the full parameters.
  void after_parameters_restored() override { runner_.refresh_parameters(); }
  // The units' parameters (stage 3: this rank's shards), gradient shards (and stage 1's full gradients),
  // masters and moments.
  void count_model_states(MemoryReport* memory) const override;
  AdamW& adam() { return *adam_; }

  // Bytes of float32 masters that are not the shard itself, plus Adam's moments (this rank).
  int64_t optimizer_bytes() const;

 private:
  parallel::zero::BlockRunner& runner_;
  parallel::Communicator& dp_;
  parallel::Communicator* pipeline_;
  std::vector<at::Tensor> masters_;  // per unit, float32 [shard_numel]
  std::unique_ptr<AdamW> adam_;
};

}  // namespace hllm::runtime
