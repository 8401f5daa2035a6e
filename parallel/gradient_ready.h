// GradientReadiness: when each parameter's gradient of a backward is complete — the moment the
// data-parallel buckets (runtime/gradient_sync.h) and ZeRO's units (zero/block_runner.h) can start
// reducing it during the backward. Parameters belong to groups (a bucket, a unit). While a round is armed,
// a post-hook on each parameter's gradient accumulator marks it ready the first time it fires and calls
// on_ready(group); waiting(group) counts the group's parameters not ready yet.
//
// The hooks stay on the accumulators after this object is gone (the parameters outlive it), and then call
// nobody; this object keeps the accumulators alive (a parameter holds its own only weakly).
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace hllm::parallel {

class GradientReadiness {
 public:
  // parameters[i] (a trainable leaf, else hllm::Error naming it and `what`) belongs to group group_of[i].
  GradientReadiness(const std::vector<std::pair<std::string, at::Tensor>>& parameters, std::vector<size_t> group_of,
                    std::function<void(size_t group)> on_ready, const std::string& what);
  ~GradientReadiness();
  GradientReadiness(const GradientReadiness&) = delete;
  GradientReadiness& operator=(const GradientReadiness&) = delete;

  // Starts a round: no parameter is ready; `armed`: this backward's gradients are reported.
  void start_round(bool armed);
  // Ends reporting (the round's gradients are all in, or they are not to be reduced early).
  void disarm() { armed_ = false; }
  bool armed() const { return armed_; }
  size_t waiting(size_t group) const { return waiting_[group]; }

 private:
  struct Target;
  void on_hook(size_t parameter);

  std::vector<size_t> group_of_;
  std::function<void(size_t)> on_ready_;
  std::vector<bool> ready_;
  std::vector<size_t> group_size_, waiting_;
  bool armed_ = false;
  std::shared_ptr<Target> target_;
  std::vector<std::shared_ptr<void>> accumulators_;
};

}  // namespace hllm::parallel
