// Data-parallel gradient handling (ZeRO stage 0): gradients averaged across the data-parallel group in
// buckets (several all_reduces in flight at once), the global gradient norm with clipping, and the check
// that every gradient is finite (the engine skips a step that is not).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "parallel/comm/communicator.h"

namespace hllm::runtime {

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

class GradientAverager {
 public:
  // Parameters are packed, in order, into buckets of about `bucket_bytes` (per dtype).
  GradientAverager(parallel::Communicator& dp, NamedTensors parameters, int64_t bucket_bytes = 25 << 20);

  // After backward on every rank: every gradient becomes the mean over the group. Parameters without a
  // gradient count as zero (so all ranks reduce the same buckets). Collective.
  void average();

  size_t buckets() const { return buckets_.size(); }

 private:
  struct Bucket {
    std::vector<size_t> members;  // indices into parameters_
    at::Tensor flat;
  };
  parallel::Communicator& dp_;
  NamedTensors parameters_;
  std::vector<Bucket> buckets_;
};

// L2 norm of all gradients together (after averaging every rank holds the same gradients, so this is the
// global norm). When max_norm > 0 and the norm exceeds it, gradients are scaled to max_norm. Returns the
// norm before clipping.
double clip_gradient_norm(const NamedTensors& parameters, double max_norm);

// True when every gradient is finite.
bool gradients_finite(const NamedTensors& parameters);

}  // namespace hllm::runtime
