// Moving a model's parameters between devices and dtypes while keeping them trainable leaves.
#pragma once

#include <ATen/core/Tensor.h>

#include <initializer_list>

namespace hllm::models {

// A leaf copy of parameter `t` on `device` in `dtype` that requires grad as `t` did (undefined stays undefined).
at::Tensor moved_parameter(const at::Tensor& t, const at::Device& device, at::ScalarType dtype);

// Replaces each tensor with moved_parameter(*t, device, its own dtype).
void move_parameters(std::initializer_list<at::Tensor*> tensors, const at::Device& device);

}  // namespace hllm::models
