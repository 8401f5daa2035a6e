// SwiGLU's gate as one autograd node with a hand-written backward, on the CPU in one pass. Its input is the
// gate and up products side by side, gate_up = [g | u] (one product with the two matrices stacked, which
// runs faster than two), and its output silu(g) * u:
//   h = g sigma(g) u,   dg = dh u sigma(g) (1 + g (1 - sigma(g))),   du = dh g sigma(g).
// Eager mode computes silu(g), then the product, and keeps both inputs and silu(g) for the backward (three
// F-wide tensors, and three passes each way); this node keeps only [g | u], in its own dtype, computes sigma
// once per element with a vectorized exp, and writes [dg | du] as one tensor, the stacked product's
// gradient. float32 and float64 are computed in their own type, bfloat16 and float16 in float32.
#pragma once

#include <ATen/core/Tensor.h>

namespace hllm::models {

// gate_up: [..., 2F] on the CPU, the gate products in the first half of the last dimension, the up products
// in the second. Returns silu(g) * u, [..., F], in gate_up's dtype.
at::Tensor fused_swiglu_gate(const at::Tensor& gate_up);

}  // namespace hllm::models
