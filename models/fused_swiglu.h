// SwiGLU's gate, silu(g) * u, as one autograd node with a hand-written backward, on the CPU in one pass:
//   h = g sigma(g) u,   dg = dh u sigma(g) (1 + g (1 - sigma(g))),   du = dh g sigma(g).
// Eager mode computes silu(g), then the product, and keeps both inputs and silu(g) for the backward (three
// F-wide tensors, and three passes each way); this node keeps only g and u, in their own dtype, and computes
// sigma once per element with a vectorized exp. float32 and float64 are computed in their own type, bfloat16
// and float16 in float32.
#pragma once

#include <ATen/core/Tensor.h>

namespace hllm::models {

// g, u: the gate and up products, same shape, CPU. Returns silu(g) * u in g's shape and dtype.
at::Tensor fused_silu_mul(const at::Tensor& g, const at::Tensor& u);

}  // namespace hllm::models
