// Grouped-query attention as one autograd node with a hand-written backward, on the CPU: softmax(q k^T /
// sqrt(d), masked) v for each (sequence, head), computed in the manner of flash attention.
//
// Why: eager attention runs as a batch of small products (one per sequence and head, each dispatched on its
// own), keeps the T x T probabilities twice per head for its backward, and spends as long again on the
// elementwise work around them (scale, mask, softmax, NaN-zeroing and their backward). Here each
// (sequence, kv head) is one task for at::parallel_for: the scores of a block of 32 query rows as one small
// product, the softmax in place, the block's output as another; keys after a causal block's last row are
// never computed. The node keeps q, k, v, the output and one log-sum-exp per row (O(T) instead of O(T^2));
// the backward recomputes each row's probabilities from them:
//   p = exp(s - lse),  dv += p do,  dp = do v^T,  ds = p (dp - sum(do * o)),  dq = ds k / sqrt(d),
//   dk += ds q / sqrt(d).
// Grouped kv heads are read in place (no repeat); a query row that may attend nothing (left padding) gives
// zeros, as the eager path's NaN-zeroing does. The products are register tiles (4 rows by one 64-byte GCC
// vector), compiled for AVX-512, AVX2 and the baseline and picked when the program loads (target_clones).
#pragma once

#include <ATen/core/Tensor.h>

namespace hllm::models {

// q: [B, H, T, d]; k, v: [B, Hkv, T, d] with H a multiple of Hkv; mask: undefined (causal) or bool,
// broadcastable to [B, H, T, T], true where a query may attend a key. CPU tensors; float32 and float64 are
// computed in their own type, bfloat16 and float16 in float32. Returns [B, H, T, d] in q's dtype (a
// transposed view of [B, T, H, d] storage, so the heads' concatenation that follows is free).
at::Tensor fused_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask);

}  // namespace hllm::models
