#include "runtime/gradient_sync.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include <algorithm>

#include <cmath>

#include "common/error.h"

namespace hllm::runtime {

GradientAverager::GradientAverager(parallel::Communicator& dp, NamedTensors parameters, int64_t bucket_bytes,
                                   bool overlap)
    : dp_(dp), parameters_(std::move(parameters)) {
  HLLM_CHECK(bucket_bytes > 0, "gradient buckets must be positive, got ", bucket_bytes);
  bucket_of_.resize(parameters_.size());
  int64_t filled = 0;
  for (size_t k = parameters_.size(); k-- > 0;) {  // last parameters first: their gradients come first
    const at::Tensor& p = parameters_[k].second;
    const int64_t bytes = p.numel() * static_cast<int64_t>(p.element_size());
    const bool new_bucket = buckets_.empty() || filled + bytes > bucket_bytes ||
                            parameters_[buckets_.back().members.front()].second.scalar_type() != p.scalar_type();
    if (new_bucket) {
      buckets_.emplace_back();
      filled = 0;
    }
    buckets_.back().members.push_back(k);
    bucket_of_[k] = buckets_.size() - 1;
    filled += bytes;
  }
  for (auto& bucket : buckets_) {
    int64_t numel = 0;
    for (const auto i : bucket.members) numel += parameters_[i].second.numel();
    bucket.flat = at::empty({numel}, parameters_[bucket.members.front()].second.options().requires_grad(false));
  }
  works_.resize(buckets_.size());
  if (!overlap) return;
  // Each gradient that completes may complete its bucket: launch what is ready, in order.
  readiness_ = std::make_unique<parallel::GradientReadiness>(parameters_, bucket_of_,
                                                             [this](size_t) { launch_ready_buckets(); }, "gradient overlap");
}

GradientAverager::~GradientAverager() = default;

void GradientAverager::arm() {
  if (readiness_) readiness_->start_round(/*armed=*/true);
}

void GradientAverager::launch_ready_buckets() {
  while (next_launch_ < buckets_.size() && readiness_->waiting(next_launch_) == 0) launch(next_launch_++);
  // Started reductions progress only inside calls into the transport: give them a chance now.
  for (size_t b = 0; b < next_launch_; ++b) works_[b]->is_completed();
}

void GradientAverager::launch(size_t b) {
  c10::NoGradGuard no_grad;
  Bucket& bucket = buckets_[b];
  int64_t offset = 0;
  for (const auto i : bucket.members) {
    const at::Tensor& p = parameters_[i].second;
    at::Tensor slot = bucket.flat.narrow(0, offset, p.numel());
    if (p.grad().defined()) {
      slot.copy_(p.grad().reshape({-1}));
    } else {
      slot.zero_();
    }
    offset += p.numel();
  }
  works_[b] = dp_.all_reduce(bucket.flat, parallel::ReduceOp::kAvg);
}

void GradientAverager::average() {
  c10::NoGradGuard no_grad;
  started_early_ = readiness_ && readiness_->armed() ? next_launch_ : 0;
  // Whatever has not started (everything without overlap; with it, buckets holding parameters that this
  // backward did not reach) starts now, in order.
  while (next_launch_ < buckets_.size()) launch(next_launch_++);
  for (size_t b = 0; b < buckets_.size(); ++b) {
    works_[b]->wait();
    int64_t offset = 0;
    for (const auto i : buckets_[b].members) {
      at::Tensor p = parameters_[i].second;
      const at::Tensor averaged = buckets_[b].flat.narrow(0, offset, p.numel()).view(p.sizes());
      if (p.grad().defined()) {
        p.mutable_grad().copy_(averaged);
      } else {
        p.mutable_grad() = averaged.clone();
      }
      offset += p.numel();
    }
    works_[b].reset();
  }
  if (readiness_) readiness_->disarm();
  next_launch_ = 0;
}

double reduce_scalar(parallel::Communicator* group, double value, parallel::ReduceOp op) {
  if (group == nullptr || group->size() == 1) return value;
  at::Tensor t = at::full({1}, value, at::kDouble);
  group->all_reduce(t, op)->wait();
  return t.item<double>();
}

}  // namespace hllm::runtime
