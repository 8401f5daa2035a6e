#include "parallel/recompute.h"

#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>

#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <vector>

namespace hllm::parallel {
namespace {

// What the backward needs to run the block again. Held by the autograd node (a shared_ptr in its context).
struct Recompute {
  const models::Block* block = nullptr;
  models::Activations inputs;            // what the block read (tensors shared, not copied)
  std::vector<std::string> differentiable;  // inputs requiring grad, in the order of the node's inputs
  std::vector<std::string> outputs;         // floating-point tensors the block wrote, in the node's output order
  std::vector<at::Tensor> parameters;       // the block's own, after the differentiable inputs
  std::function<void()> before_recompute;
};

bool is_new(const models::Activations& before, const std::string& name, const at::Tensor& t) {
  const auto it = before.find(name);
  return it == before.end() || !it->second.is_same(t);
}

// Carries the shared_ptr inside the autograd context (saved_data holds IValues).
struct RecomputeCapsule : public torch::CustomClassHolder {
  explicit RecomputeCapsule(std::shared_ptr<Recompute> v) : value(std::move(v)) {}
  std::shared_ptr<Recompute> value;
};

struct RecomputeFunction : public torch::autograd::Function<RecomputeFunction> {
  // `inputs`: the differentiable inputs, then the parameters (so autograd routes their gradients here).
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* context,
                                                at::TensorList /*inputs*/,
                                                std::shared_ptr<Recompute> recompute,
                                                models::Activations* activations) {
    context->set_materialize_grads(false);
    context->saved_data["recompute"] = c10::IValue::make_capsule(c10::make_intrusive<RecomputeCapsule>(recompute));
    models::Activations out = recompute->inputs;  // grad mode is off here: no graph is kept
    recompute->block->forward(out);
    torch::autograd::variable_list floats;
    for (const auto& [name, t] : out) {
      if (!is_new(recompute->inputs, name, t)) continue;
      if (at::isFloatingType(t.scalar_type())) {
        recompute->outputs.push_back(name);
        floats.push_back(t);
      } else {
        (*activations)[name] = t;  // indices, counts: no gradient, recomputed alike in the backward
      }
    }
    return floats;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* context,
                                                 torch::autograd::variable_list grads) {
    const std::shared_ptr<Recompute> recompute =
        c10::static_intrusive_pointer_cast<RecomputeCapsule>(context->saved_data["recompute"].toCapsule())->value;
    if (recompute->before_recompute) recompute->before_recompute();
    models::Activations a = recompute->inputs;
    std::vector<at::Tensor> wrt;
    for (const auto& name : recompute->differentiable) {
      at::Tensor leaf = a.at(name).detach().requires_grad_(true);
      a[name] = leaf;
      wrt.push_back(leaf);
    }
    wrt.insert(wrt.end(), recompute->parameters.begin(), recompute->parameters.end());
    {
      at::AutoGradMode grad_on(true);
      recompute->block->forward(a);
    }
    std::vector<at::Tensor> outputs, output_grads;
    for (size_t k = 0; k < recompute->outputs.size(); ++k) {
      const at::Tensor& out = a.at(recompute->outputs[k]);
      if (grads[k].defined() && out.requires_grad()) {
        outputs.push_back(out);
        output_grads.push_back(grads[k]);
      }
    }
    torch::autograd::variable_list result(wrt.size());
    if (!outputs.empty()) {
      result = torch::autograd::grad(outputs, wrt, output_grads, /*retain_graph=*/false, /*create_graph=*/false,
                                     /*allow_unused=*/true);
    }
    result.emplace_back();  // the Recompute argument
    result.emplace_back();  // the activations argument
    return result;
  }

};

}  // namespace

void recomputed_forward(const models::Block& block, models::Activations& activations,
                        std::function<void()> before_recompute) {
  auto recompute = std::make_shared<Recompute>();
  recompute->block = &block;
  recompute->inputs = activations;
  recompute->before_recompute = std::move(before_recompute);
  torch::autograd::variable_list inputs;
  for (const auto& [name, t] : activations) {
    if (t.defined() && t.requires_grad()) {
      recompute->differentiable.push_back(name);
      inputs.push_back(t);
    }
  }
  for (const auto& [name, p] : block.parameters()) {
    if (p.requires_grad()) {
      recompute->parameters.push_back(p);
      inputs.push_back(p);
    }
  }
  // As a TensorList, so that autograd sees each tensor as an input (a std::vector would be one opaque argument).
  const torch::autograd::variable_list outputs =
      RecomputeFunction::apply(at::TensorList(inputs), recompute, &activations);
  for (size_t k = 0; k < outputs.size(); ++k) activations[recompute->outputs[k]] = outputs[k];
}

}  // namespace hllm::parallel
