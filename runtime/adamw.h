// AdamW (Loshchilov & Hutter): Adam with decoupled weight decay, on named parameters. Decay applies to
// matrices only: norms, biases, the [ITEM] embedding and logit_scale are not decayed (no_weight_decay).
// The state is kept per parameter name in float32, so it can be sharded and checkpointed by name. The
// update is computed in float32 and written back in the parameter's dtype: for bfloat16 training the
// optimizers (replicated_optimizer.h, zero_optimizer.h) pass float32 master copies here.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace hllm::runtime {

struct AdamWOptions {
  double lr = 1e-4;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.01;
};

// True for parameters that must not be decayed: one-dimensional tensors (norm weights, biases, scalars)
// and the named exceptions ("item_token", "logit_scale").
bool no_weight_decay(const std::string& name, const at::Tensor& parameter);

class AdamW {
 public:
  // `decay`: whether each parameter is decayed; empty = by no_weight_decay(name, tensor). ZeRO passes it
  // because its tensors are flat pieces of parameters, whose shape no longer tells.
  AdamW(std::vector<std::pair<std::string, at::Tensor>> parameters, const AdamWOptions& options,
        std::vector<bool> decay = {});

  // One update with learning rate `lr` (the schedule's value for this step). Parameters without a
  // gradient are left alone. No autograd is recorded.
  void step(double lr);
  void zero_grad();

  int64_t steps() const { return steps_; }
  void set_steps(int64_t steps) { steps_ = steps; }  // resuming: the bias corrections continue
  const AdamWOptions& options() const { return options_; }
  // Moment tensors by parameter name (for checkpoints): {exp_avg, exp_avg_sq}.
  const std::map<std::string, std::pair<at::Tensor, at::Tensor>>& state() const { return state_; }

 private:
  std::vector<std::pair<std::string, at::Tensor>> parameters_;
  std::vector<bool> decay_;
  AdamWOptions options_;
  int64_t steps_ = 0;
  std::map<std::string, std::pair<at::Tensor, at::Tensor>> state_;
};

}  // namespace hllm::runtime
