// Rotary embedding (rotate-half, Hugging Face's convention) as one autograd node with a hand-written
// backward, on the CPU in one pass per row. With h = d / 2, for c < h:
//   y[c] = x[c] cos[c] - x[c + h] sin[c],        y[c + h] = x[c + h] cos[c + h] + x[c] sin[c + h]
// and the backward is the transposed rotation:
//   dx[c] = dy[c] cos[c] + dy[c + h] sin[c + h],  dx[c + h] = dy[c + h] cos[c + h] - dy[c] sin[c].
// Eager mode builds the rotated copy (two slices, a negation, a concatenation) and three products each way;
// this node saves nothing but the tables. float32 and float64 are computed in their own type, bfloat16 and
// float16 in float32.
#pragma once

#include <ATen/core/Tensor.h>

namespace hllm::models {

// x: [B, H, T, d] (any strides); cos, sin: [T, d] or [B, 1, T, d] (rope_tables, float32). Returns x's shape
// and dtype, laid out as x is (the decoder's [B, T, H, d] storage seen as [B, H, T, d] stays so). CPU only.
at::Tensor fused_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

}  // namespace hllm::models
