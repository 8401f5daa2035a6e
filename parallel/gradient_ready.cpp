#include "parallel/gradient_ready.h"

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <algorithm>

#include "common/error.h"

namespace hllm::parallel {

// What the hooks hold: cleared when the GradientReadiness goes.
struct GradientReadiness::Target {
  GradientReadiness* owner = nullptr;
};

namespace {

class ReadyHook : public torch::autograd::FunctionPostHook {
 public:
  using Notify = void (*)(void* target, size_t parameter);
  ReadyHook(std::shared_ptr<void> target, size_t parameter, Notify notify)
      : target_(std::move(target)), parameter_(parameter), notify_(notify) {}
  torch::autograd::variable_list operator()(const torch::autograd::variable_list& outputs,
                                            const torch::autograd::variable_list& /*inputs*/) override {
    notify_(target_.get(), parameter_);
    return outputs;
  }

 private:
  std::shared_ptr<void> target_;
  size_t parameter_;
  Notify notify_;
};

}  // namespace

GradientReadiness::GradientReadiness(const std::vector<std::pair<std::string, at::Tensor>>& parameters,
                                     std::vector<size_t> group_of, std::function<void(size_t)> on_ready,
                                     const std::string& what)
    : group_of_(std::move(group_of)), on_ready_(std::move(on_ready)), ready_(parameters.size(), false) {
  HLLM_CHECK(group_of_.size() == parameters.size(), what, ": ", group_of_.size(), " groups for ", parameters.size(),
             " parameters");
  for (const size_t g : group_of_) {
    if (g >= group_size_.size()) group_size_.resize(g + 1, 0);
    ++group_size_[g];
  }
  waiting_ = group_size_;
  target_ = std::make_shared<Target>();
  target_->owner = this;
  const ReadyHook::Notify notify = [](void* target, size_t parameter) {
    if (auto* owner = static_cast<Target*>(target)->owner) owner->on_hook(parameter);
  };
  for (size_t i = 0; i < parameters.size(); ++i) {
    const at::Tensor& p = parameters[i].second;
    HLLM_CHECK(p.requires_grad() && p.is_leaf(), what, ": parameter '", parameters[i].first, "' is not a trainable leaf");
    std::shared_ptr<torch::autograd::Node> accumulator = torch::autograd::impl::grad_accumulator(p);
    accumulator->add_post_hook(std::make_unique<ReadyHook>(target_, i, notify));
    accumulators_.push_back(std::move(accumulator));
  }
}

GradientReadiness::~GradientReadiness() { target_->owner = nullptr; }

void GradientReadiness::start_round(bool armed) {
  std::fill(ready_.begin(), ready_.end(), false);
  waiting_ = group_size_;
  armed_ = armed;
}

void GradientReadiness::on_hook(size_t parameter) {
  if (!armed_ || ready_[parameter]) return;
  ready_[parameter] = true;
  const size_t group = group_of_[parameter];
  --waiting_[group];
  on_ready_(group);
}

}  // namespace hllm::parallel
