#include "runtime/adamw.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include <cmath>

#include "common/error.h"

namespace hllm::runtime {

bool no_weight_decay(const std::string& name, const at::Tensor& parameter) {
  if (parameter.dim() <= 1) return true;
  for (const char* exception : {"item_token", "logit_scale"}) {
    const std::string e(exception);
    if (name.size() >= e.size() && name.compare(name.size() - e.size(), e.size(), e) == 0) return true;
  }
  return false;
}

AdamW::AdamW(std::vector<std::pair<std::string, at::Tensor>> parameters, const AdamWOptions& options,
             std::vector<bool> decay)
    : parameters_(std::move(parameters)), decay_(std::move(decay)), options_(options) {
  if (decay_.empty()) {
    for (const auto& [name, p] : parameters_) decay_.push_back(!no_weight_decay(name, p));
  }
  HLLM_CHECK(decay_.size() == parameters_.size(), "AdamW: ", decay_.size(), " decay flags for ", parameters_.size(),
             " parameters");
  HLLM_CHECK(options.lr >= 0 && options.eps > 0 && options.beta1 >= 0 && options.beta1 < 1 && options.beta2 >= 0 &&
                 options.beta2 < 1 && options.weight_decay >= 0,
             "AdamW: invalid options lr=", options.lr, " betas=(", options.beta1, ", ", options.beta2,
             ") eps=", options.eps, " weight_decay=", options.weight_decay);
  for (const auto& [name, p] : parameters_) {
    HLLM_CHECK(!state_.count(name), "AdamW: parameter '", name, "' listed twice");
    const auto options32 = p.options().dtype(at::kFloat);
    state_[name] = {at::zeros(p.sizes(), options32), at::zeros(p.sizes(), options32)};
  }
}

void AdamW::step(double lr) {
  c10::NoGradGuard no_grad;
  ++steps_;
  const double correction1 = 1.0 - std::pow(options_.beta1, static_cast<double>(steps_));
  const double correction2 = 1.0 - std::pow(options_.beta2, static_cast<double>(steps_));
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const std::string& name = parameters_[i].first;
    at::Tensor& p = parameters_[i].second;
    if (!p.grad().defined()) continue;
    auto& [m, v] = state_.at(name);
    const at::Tensor g = p.grad().to(at::kFloat);
    m.mul_(options_.beta1).add_(g, 1.0 - options_.beta1);
    v.mul_(options_.beta2).addcmul_(g, g, 1.0 - options_.beta2);
    at::Tensor master = p.to(at::kFloat);
    if (decay_[i]) master.mul_(1.0 - lr * options_.weight_decay);  // decoupled decay
    const at::Tensor denominator = (v / correction2).sqrt_().add_(options_.eps);
    master.addcdiv_(m, denominator, -lr / correction1);
    if (!master.is_same(p)) p.copy_(master);
  }
}

void AdamW::zero_grad() {
  for (auto& [name, p] : parameters_) {
    if (p.grad().defined()) p.mutable_grad().zero_();
  }
}

}  // namespace hllm::runtime
