#include "runtime/gradient_norm.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include <cmath>

#include "common/error.h"
#include "runtime/gradient_sync.h"

namespace hllm::runtime {

double clip_gradients(const std::vector<at::Tensor>& grads, double max_norm, parallel::Communicator* shards,
                      parallel::Communicator* pipeline, const std::vector<int>* group_of,
                      std::vector<double>* group_norms) {
  c10::NoGradGuard no_grad;
  const size_t groups = group_norms != nullptr ? group_norms->size() : 0;
  HLLM_ASSERT(groups == 0 || (group_of != nullptr && group_of->size() == grads.size()), "a group per gradient");
  // [total, group 0, group 1, ...] squares: one reduction over the shards, one over the pipeline.
  std::vector<double> squares(1 + groups, 0.0);
  if (!grads.empty()) {
    std::vector<at::Tensor> parts;
    for (const auto& g : grads) parts.push_back(g.to(at::kDouble).pow(2).sum());
    const at::Tensor each = at::stack(parts);
    at::Tensor sums = at::zeros({static_cast<int64_t>(1 + groups)}, at::kDouble).to(each.device());
    sums[0] = each.sum();
    if (groups > 0) {
      const at::Tensor index = at::tensor(std::vector<int64_t>(group_of->begin(), group_of->end()), at::kLong);
      sums.narrow(0, 1, static_cast<int64_t>(groups)).index_add_(0, index.to(each.device()), each);
    }
    if (shards != nullptr) shards->all_reduce(sums, parallel::ReduceOp::kSum)->wait();
    const at::Tensor host = sums.to(at::kCPU);
    for (size_t k = 0; k < squares.size(); ++k) squares[k] = host[static_cast<int64_t>(k)].item<double>();
  }
  if (pipeline != nullptr) {
    at::Tensor all = at::tensor(squares, at::kDouble);
    pipeline->all_reduce(all, parallel::ReduceOp::kSum)->wait();
    for (size_t k = 0; k < squares.size(); ++k) squares[k] = all[static_cast<int64_t>(k)].item<double>();
  }
  for (size_t k = 0; k < groups; ++k) (*group_norms)[k] = std::sqrt(squares[1 + k]);
  const double norm = std::sqrt(squares[0]);
  if (max_norm > 0 && norm > max_norm && std::isfinite(norm)) {
    const double scale = max_norm / (norm + 1e-6);
    for (const auto& g : grads) g.mul_(scale);
  }
  return norm;
}

int tower_of(const std::string& parameter, const std::vector<std::string>& towers) {
  for (size_t t = 0; t < towers.size(); ++t) {
    if (parameter.compare(0, towers[t].size() + 1, towers[t] + ".") == 0) return static_cast<int>(t);
  }
  return towers.empty() ? 0 : static_cast<int>(towers.size()) - 1;
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
