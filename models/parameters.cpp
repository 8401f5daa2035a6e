#include "models/parameters.h"

#include <ATen/ATen.h>

namespace hllm::models {

at::Tensor moved_parameter(const at::Tensor& t, const at::Device& device, at::ScalarType dtype) {
  if (!t.defined()) return t;
  return t.detach().to(device, dtype).requires_grad_(t.requires_grad());
}

void move_parameters(std::initializer_list<at::Tensor*> tensors, const at::Device& device) {
  for (at::Tensor* t : tensors) {
    if (t->defined()) *t = moved_parameter(*t, device, t->scalar_type());
  }
}

}  // namespace hllm::models
