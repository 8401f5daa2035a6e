#include "models/llama_ops.h"

#include <ATen/ATen.h>
#include <torch/version.h>

#include <cmath>
#include <limits>

#include "models/compute_type.h"
#include "models/fused_attention.h"
#include "models/fused_rms_norm.h"
#include "models/fused_rope.h"
#include "models/fused_swiglu.h"

namespace hllm::models {
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  return x.device().is_cpu() ? fused_rms_norm(x, weight, eps) : eager::rms_norm(x, weight, eps);
}

at::Tensor eager::rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  const at::Tensor x32 = x.to(compute_type(x));
  const at::Tensor normed = x32 * at::rsqrt(x32.pow(2).mean({-1}, /*keepdim=*/true) + eps);
  return (normed * weight.to(compute_type(x))).to(x.scalar_type());
}

std::pair<at::Tensor, at::Tensor> rope_tables(const at::Tensor& positions, int64_t head_dim, double theta,
                                              const RopeScaling& scaling) {
  const auto options = at::TensorOptions().dtype(at::kFloat).device(positions.device());
  // inv_freq[i] = theta^(-2i/d), i < d/2
  at::Tensor inv_freq = at::pow(theta, at::arange(0, head_dim, 2, options) / static_cast<double>(head_dim)).reciprocal();
  if (scaling.type == "linear") inv_freq = inv_freq / scaling.factor;
  if (scaling.type == "llama3") {
    // Long wavelengths (low frequencies) are stretched by factor, short ones kept, a linear blend in
    // between on original / wavelength.
    const double original = static_cast<double>(scaling.original_max_position_embeddings);
    const at::Tensor wavelength = 2 * M_PI / inv_freq;
    const at::Tensor blend = ((original / wavelength - scaling.low_freq_factor) /
                              (scaling.high_freq_factor - scaling.low_freq_factor)).clamp(0.0, 1.0);
    const at::Tensor blended = (1 - blend) * inv_freq / scaling.factor + blend * inv_freq;
    inv_freq = at::where(wavelength < original / scaling.high_freq_factor, inv_freq,
                         at::where(wavelength > original / scaling.low_freq_factor, inv_freq / scaling.factor, blended));
  }
  const at::Tensor angles = positions.to(at::kFloat).unsqueeze(-1) * inv_freq;  // [T, d/2]
  const at::Tensor both = at::cat({angles, angles}, -1);                        // [T, d]
  return {both.cos(), both.sin()};
}

at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  return x.device().is_cpu() ? fused_rope(x, cos, sin) : eager::apply_rope(x, cos, sin);
}

at::Tensor eager::apply_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  const at::Tensor x32 = x.to(compute_type(x));
  const at::Tensor rotated = at::cat({-x32.narrow(-1, half, half), x32.narrow(-1, 0, half)}, -1);
  return (x32 * cos + rotated * sin).to(x.scalar_type());
}

at::Tensor grouped_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask) {
  if (q.device().is_cpu()) return fused_attention(q, k, v, mask);
#if TORCH_VERSION_MAJOR >= 2
  // LibTorch 2 on a GPU: the fused kernels. Without a mask (plain causal) the flash kernel applies; with
  // one (bool: true = attend) the memory-efficient one, where a query row with nothing to attend
  // (padding) comes out NaN and is zeroed as below.
  if (q.is_cuda()) {
    const int64_t groups = q.size(1) / k.size(1);
    const at::Tensor keys = groups == 1 ? k : k.repeat_interleave(groups, 1);
    const at::Tensor values = groups == 1 ? v : v.repeat_interleave(groups, 1);
    if (!mask.defined()) return at::scaled_dot_product_attention(q, keys, values, {}, 0.0, /*is_causal=*/true);
    return at::nan_to_num(at::scaled_dot_product_attention(q, keys, values, mask, 0.0, false), 0.0);
  }
#endif
  return eager::attention(q, k, v, mask);
}

at::Tensor eager::attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& given_mask) {
  const int64_t groups = q.size(1) / k.size(1);
  const at::Tensor keys = groups == 1 ? k : k.repeat_interleave(groups, 1);
  const at::Tensor values = groups == 1 ? v : v.repeat_interleave(groups, 1);
  const at::Tensor mask = given_mask.defined() ? given_mask : causal_mask(q.size(2), q.device());
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  const auto type = compute_type(q);
  at::Tensor scores = at::matmul(q.to(type), keys.to(type).transpose(-2, -1)) * scale;  // [B, H, T, T]
  scores = scores.masked_fill(mask.logical_not(), -std::numeric_limits<float>::infinity());
  at::Tensor weights = at::softmax(scores, -1);
  // A query that may attend nothing (padding) gets zeros instead of NaN.
  weights = at::nan_to_num(weights, 0.0);
  return at::matmul(weights, values.to(type)).to(q.scalar_type());
}

at::Tensor swiglu(const at::Tensor& x, const at::Tensor& gate, const at::Tensor& up, const at::Tensor& down) {
  if (!x.device().is_cpu()) return eager::swiglu(x, gate, up, down);
  // One product with the gate and up matrices stacked (faster than two), the fused gate on its [g | u].
  // Statements of their own: without autograd (evaluation) the stacked matrices are freed before the gate
  // runs and their product before the down product (under autograd the graph keeps what it needs).
  at::Tensor gate_up = at::linear(x, at::cat({gate, up}, 0));
  const at::Tensor gated = fused_swiglu_gate(gate_up);
  gate_up.reset();
  return at::linear(gated, down);
}

at::Tensor eager::swiglu(const at::Tensor& x, const at::Tensor& gate, const at::Tensor& up, const at::Tensor& down) {
  return at::linear(at::silu(at::linear(x, gate)) * at::linear(x, up), down);
}

at::Tensor causal_mask(int64_t tokens, const at::Device& device) {
  return at::ones({tokens, tokens}, at::TensorOptions().dtype(at::kBool).device(device)).tril().view({1, 1, tokens, tokens});
}

}  // namespace hllm::models

namespace hllm::models {

at::Tensor sliding_window_mask(const at::Tensor& mask, int64_t tokens, int64_t window, const at::Device& device) {
  if (window <= 0 || tokens <= window) return mask;
  const at::Tensor base = mask.defined() ? mask : causal_mask(tokens, device);
  // Keep key j for query i when i - j < window: the band above the window-th diagonal below the main one.
  const at::Tensor band =
      at::ones({tokens, tokens}, at::TensorOptions().dtype(at::kBool).device(device)).triu(-(window - 1));
  return base.logical_and(band.view({1, 1, tokens, tokens}));
}

}  // namespace hllm::models
