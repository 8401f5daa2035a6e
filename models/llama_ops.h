// The operations of a LLaMA-family decoder layer, as functions of tensors (autograd-capable ATen ops).
// Shapes: B batch, T tokens, D hidden, H heads, Hkv key/value heads, d = D / H head size.
#pragma once

#include <ATen/core/Tensor.h>

#include "models/llama_config.h"

namespace hllm::models {

// Reduced-precision inputs (bfloat16, float16) are computed in float32 and returned in their dtype. On the
// CPU, RMSNorm, RoPE, attention and SwiGLU's gate run as fused autograd nodes with hand-written backward
// (models/fused_*.h: one pass over the data, less kept for the backward); elsewhere as the plain ATen
// formulas of `eager::`, which are also the reference the fused nodes are tested against.

// x * rsqrt(mean(x^2) + eps) * weight.   x: [..., D]
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps);

// cos and sin tables for `positions` ([T] int64), Hugging Face layout (the half-dim table repeated
// twice): each [T, d] in float32. Frequencies theta^(-2i/d), stretched as `scaling` says.
std::pair<at::Tensor, at::Tensor> rope_tables(const at::Tensor& positions, int64_t head_dim, double theta,
                                              const RopeScaling& scaling = {});

// Rotate-half rotary embedding (Hugging Face convention).   x: [B, H, T, d]; cos, sin: [T, d] or [B, 1, T, d]
at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

// Softmax attention with grouped key/value heads: on the CPU the fused node (models/fused_attention.h); on
// CUDA at::scaled_dot_product_attention when built against LibTorch >= 2, eager::attention otherwise.
// q: [B, H, T, d]; k, v: [B, Hkv, T, d]; mask: bool [B or 1, 1, T, T], true where a query may attend a key;
// undefined: plain causal (on CUDA the flash kernel). Returns [B, H, T, d].
at::Tensor grouped_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask);


// down(silu(gate(x)) * up(x)).   x: [..., D]; gate, up: [F, D]; down: [D, F]. On the CPU the gate and up
// matrices are stacked for one product, and the fused gate (models/fused_swiglu.h) reads its output.
at::Tensor swiglu(const at::Tensor& x, const at::Tensor& gate, const at::Tensor& up, const at::Tensor& down);

// Causal mask for T tokens: bool [1, 1, T, T].
at::Tensor causal_mask(int64_t tokens, const at::Device& device);

// The same operations as plain ATen formulas under autograd.
namespace eager {
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps);
at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);
// Products, masked softmax, NaN-zeroing of rows that attend nothing; kv heads repeated, the T x T
// probabilities kept for the backward.
at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask);
at::Tensor swiglu(const at::Tensor& x, const at::Tensor& gate, const at::Tensor& up, const at::Tensor& down);
}  // namespace eager

// `mask` (undefined: causal) limited to keys fewer than `window` tokens back (query i sees key j only if
// i - j < window), as Mistral's sliding window; `mask` itself when window is 0 or T <= window.
at::Tensor sliding_window_mask(const at::Tensor& mask, int64_t tokens, int64_t window, const at::Device& device);

}  // namespace hllm::models
