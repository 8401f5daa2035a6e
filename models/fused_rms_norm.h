// RMSNorm as one autograd node with a hand-written backward, on the CPU in one pass per row
// (at::parallel_for over rows): y = x * r * w with r = 1 / sqrt(mean(x^2) + eps) per row.
//
// Statistics are float32 for float32, bfloat16 and float16 inputs (float64 stays float64, for gradient
// checks). The node saves what its backward needs and nothing else: x (in its own dtype), w, and r
// ([rows] in the compute type). The plain formula (`rms_norm` in llama_ops.h) keeps three float32 tensors
// of x's size. Backward, with g = dy * w per element and D the row width:
//   dx = r * (g - x * r^2 * mean(g * x)),   dw = sum over rows of dy * x * r.
#pragma once

#include <ATen/core/Tensor.h>

namespace hllm::models {

// x: [..., D] contiguous or not; weight: [D]. Returns x's shape and dtype. CPU tensors only for now.
at::Tensor fused_rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps);

}  // namespace hllm::models
