#include "runtime/gradient_norm.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include <cmath>

#include "runtime/gradient_sync.h"

namespace hllm::runtime {

double clip_gradients(const std::vector<at::Tensor>& grads, double max_norm, parallel::Communicator* shards,
                      parallel::Communicator* pipeline) {
  c10::NoGradGuard no_grad;
  double squares = 0;
  if (!grads.empty()) {
    std::vector<at::Tensor> parts;
    for (const auto& g : grads) parts.push_back(g.to(at::kDouble).pow(2).sum());
    at::Tensor total = at::stack(parts).sum().reshape({1});
    if (shards != nullptr) shards->all_reduce(total, parallel::ReduceOp::kSum)->wait();
    squares = total.item<double>();
  }
  const double norm = std::sqrt(reduce_scalar(pipeline, squares, parallel::ReduceOp::kSum));
  if (max_norm > 0 && norm > max_norm && std::isfinite(norm)) {
    const double scale = max_norm / (norm + 1e-6);
    for (const auto& g : grads) g.mul_(scale);
  }
  return norm;
}

bool gradients_finite(const std::vector<at::Tensor>& grads, parallel::Communicator* shards,
                      parallel::Communicator* pipeline) {
  c10::NoGradGuard no_grad;
  double bad_here = 0;
  if (!grads.empty()) {
    std::vector<at::Tensor> bad;
    for (const auto& g : grads) bad.push_back(at::isfinite(g).logical_not().any());
    at::Tensor any_bad = at::stack(bad).any().to(at::kFloat).reshape({1});
    if (shards != nullptr) shards->all_reduce(any_bad, parallel::ReduceOp::kMax)->wait();
    bad_here = any_bad.item<float>();
  }
  return reduce_scalar(pipeline, bad_here, parallel::ReduceOp::kMax) == 0;
}

std::vector<at::Tensor> gradients_of(const NamedTensors& parameters) {
  std::vector<at::Tensor> grads;
  for (const auto& [name, p] : parameters) {
    if (p.grad().defined()) grads.push_back(p.grad());
  }
  return grads;
}

}  // namespace hllm::runtime
