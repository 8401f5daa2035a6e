#include "parallel/comm/differentiable_gather.h"

#include <torch/csrc/autograd/custom_function.h>

#include <ATen/ATen.h>

namespace hllm::parallel {
namespace {

struct AllGatherFunction : public torch::autograd::Function<AllGatherFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* context, const at::Tensor& x, Communicator* comm) {
    context->saved_data["comm"] = reinterpret_cast<int64_t>(comm);
    const at::Tensor input = x.contiguous();
    std::vector<int64_t> shape = input.sizes().vec();
    shape[0] *= comm->size();
    at::Tensor output = at::empty(shape, input.options());
    comm->all_gather(input, output)->wait();
    return output;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* context,
                                                 torch::autograd::variable_list grads) {
    auto* comm = reinterpret_cast<Communicator*>(context->saved_data["comm"].toInt());
    const at::Tensor grad = grads[0].contiguous();
    std::vector<int64_t> shape = grad.sizes().vec();
    shape[0] /= comm->size();
    at::Tensor mine = at::empty(shape, grad.options());
    comm->reduce_scatter(grad, mine, ReduceOp::kSum)->wait();
    return {mine, at::Tensor()};
  }
};

}  // namespace

at::Tensor all_gather_with_grad(Communicator& comm, const at::Tensor& x) {
  return AllGatherFunction::apply(x, &comm);
}

}  // namespace hllm::parallel
