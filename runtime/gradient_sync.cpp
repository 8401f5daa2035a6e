#include "runtime/gradient_sync.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include <cmath>

#include "common/error.h"

namespace hllm::runtime {

GradientAverager::GradientAverager(parallel::Communicator& dp, NamedTensors parameters, int64_t bucket_bytes)
    : dp_(dp), parameters_(std::move(parameters)) {
  HLLM_CHECK(bucket_bytes > 0, "gradient buckets must be positive, got ", bucket_bytes);
  int64_t filled = 0;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const at::Tensor& p = parameters_[i].second;
    const int64_t bytes = p.numel() * static_cast<int64_t>(p.element_size());
    const bool new_bucket = buckets_.empty() || filled + bytes > bucket_bytes ||
                            parameters_[buckets_.back().members.front()].second.scalar_type() != p.scalar_type();
    if (new_bucket) {
      buckets_.emplace_back();
      filled = 0;
    }
    buckets_.back().members.push_back(i);
    filled += bytes;
  }
  for (auto& bucket : buckets_) {
    int64_t numel = 0;
    for (const auto i : bucket.members) numel += parameters_[i].second.numel();
    bucket.flat = at::empty({numel}, parameters_[bucket.members.front()].second.options().requires_grad(false));
  }
}

void GradientAverager::average() {
  c10::NoGradGuard no_grad;
  std::vector<parallel::WorkHandle> works;
  for (auto& bucket : buckets_) {
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
    works.push_back(dp_.all_reduce(bucket.flat, parallel::ReduceOp::kAvg));
  }
  for (size_t b = 0; b < buckets_.size(); ++b) {
    works[b]->wait();
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
  }
}

double clip_gradient_norm(const NamedTensors& parameters, double max_norm) {
  c10::NoGradGuard no_grad;
  // Summed on the gradients' device and read once: one host synchronisation per step, not one per tensor.
  std::vector<at::Tensor> squares;
  for (const auto& [name, p] : parameters) {
    if (p.grad().defined()) squares.push_back(p.grad().to(at::kDouble).pow(2).sum());
  }
  const double norm = squares.empty() ? 0.0 : std::sqrt(at::stack(squares).sum().item<double>());
  if (max_norm > 0 && norm > max_norm && std::isfinite(norm)) {
    const double scale = max_norm / (norm + 1e-6);
    for (const auto& [name, p] : parameters) {
      if (p.grad().defined()) p.grad().mul_(scale);
    }
  }
  return norm;
}

bool gradients_finite(const NamedTensors& parameters) {
  std::vector<at::Tensor> finite;  // per tensor, read once (as clip_gradient_norm)
  for (const auto& [name, p] : parameters) {
    if (p.grad().defined()) finite.push_back(at::isfinite(p.grad()).all());
  }
  return finite.empty() || at::stack(finite).all().item<bool>();
}

}  // namespace hllm::runtime
