// Data-parallel gradient averaging (ZeRO stage 0): gradients averaged across the data-parallel group in
// buckets (several all_reduces in flight at once, and with `overlap` started during the backward). The norm,
// clipping and the finite check are runtime/gradient_norm.h.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "parallel/comm/communicator.h"
#include "parallel/gradient_ready.h"
#include "runtime/gradient_norm.h"

namespace hllm::runtime {


class GradientAverager {
 public:
  // Parameters are packed into buckets of about `bucket_bytes` (per dtype), last parameters first: the
  // backward produces their gradients first. With `overlap`, an autograd hook on each parameter's gradient
  // accumulator marks it ready during an armed backward, and a bucket's all_reduce starts as soon as all of
  // its parameters are ready and every earlier bucket has started — so every rank issues the same
  // collectives in the same order, whatever order its own backward finishes them in.
  GradientAverager(parallel::Communicator& dp, NamedTensors parameters, int64_t bucket_bytes = 25 << 20,
                   bool overlap = false);
  ~GradientAverager();

  // The next backward produces this step's final gradients (the last micro-batch of an accumulation):
  // with overlap, reduce them while it runs. Without overlap, does nothing.
  void arm();

  // After backward on every rank: every gradient becomes the mean over the group. Parameters without a
  // gradient count as zero (so all ranks reduce the same buckets). Collective.
  void average();

  size_t buckets() const { return buckets_.size(); }
  // Buckets whose all_reduce started during the last armed backward (before average()).
  size_t buckets_started_early() const { return started_early_; }

 private:
  struct Bucket {
    std::vector<size_t> members;  // indices into parameters_
    at::Tensor flat;
  };

  void launch_ready_buckets();
  void launch(size_t bucket);

  parallel::Communicator& dp_;
  NamedTensors parameters_;
  std::vector<Bucket> buckets_;
  std::vector<size_t> bucket_of_;    // parameter index -> bucket
  std::vector<parallel::WorkHandle> works_;  // per bucket, once started
  size_t next_launch_ = 0;
  size_t started_early_ = 0;
  std::unique_ptr<parallel::GradientReadiness> readiness_;  // with overlap: buckets launched as they complete
};

// `value` reduced over `group` (host scalars; a null group: the value itself). Collective.
double reduce_scalar(parallel::Communicator* group, double value, parallel::ReduceOp op);

}  // namespace hllm::runtime
