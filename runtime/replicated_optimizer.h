// ReplicatedOptimizer: AdamW at ZeRO stage 0, where every rank of the data-parallel group holds every
// parameter of its stage whole. With several ranks the gradients are averaged in buckets
// (GradientAverager), whose all_reduce starts during the last micro-batch's backward when the gradients
// are final then (float32). With bf16, float32 masters of the bfloat16 parameters take each micro-batch's
// gradients (so accumulation is float32 too) and are what clipping, the finite check and AdamW see; the
// parameters are rounded from them after each step.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "parallel/comm/communicator.h"
#include "runtime/adamw.h"
#include "runtime/gradient_sync.h"
#include "runtime/optimizer.h"

namespace hllm::runtime {

class ReplicatedOptimizer : public Optimizer {
 public:
  // `parameters`: this rank's (its stage's), with values. `dp`: the data-parallel group for device
  // tensors; `buckets`: a communicator of its own over the same ranks for the gradient buckets (needed
  // when dp > 1); `pipeline` (host scalars; may be null): the stages whose norms and flags join in.
  ReplicatedOptimizer(NamedTensors parameters, const AdamWOptions& options, bool mixed, parallel::Communicator& dp,
                      parallel::Communicator* buckets, parallel::Communicator* pipeline);
  ~ReplicatedOptimizer() override;

  void before_last_backward() override;
  void after_backward() override;
  void average_gradients() override;
  double clip_gradient_norm(double max_norm) override;
  bool gradients_finite() override;
  std::vector<at::Tensor> gradients() override;
  void step(double lr) override;
  void zero_grad() override;
  int64_t steps() const override { return adam_->steps(); }
  void set_steps(int64_t steps) override { adam_->set_steps(steps); }
  std::vector<checkpoint::StatePiece> state_pieces(bool for_loading) override;
  void after_load(bool masters_loaded) override;
  void after_parameters_restored() override;
  void count_model_states(MemoryReport* memory) const override;

 private:
  // The parameters rounded from their float32 masters (bf16; a no-op for float32 ones).
  void copy_masters_into_parameters();

  NamedTensors parameters_;
  NamedTensors updated_;  // what AdamW updates: the parameters, or float32 masters of bf16 ones
  bool mixed_;
  parallel::Communicator& dp_;
  parallel::Communicator* pipeline_;
  std::unique_ptr<AdamW> adam_;
  std::unique_ptr<GradientAverager> averager_;  // dp > 1
};

}  // namespace hllm::runtime
