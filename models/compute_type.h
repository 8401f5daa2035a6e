// The arithmetic type of the LLaMA ops, shared by the plain formulas (llama_ops.cpp) and the fused CPU
// nodes (fused_*.cpp): bfloat16 and float16 are computed in float32, float64 stays float64 (gradient checks).
#pragma once

#include <ATen/core/Tensor.h>

namespace hllm::models {

inline at::ScalarType compute_type(const at::Tensor& x) {
  return x.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
}

// x in `type` with a contiguous last dimension, as the fused nodes' row loops read it (a copy only where
// needed).
inline at::Tensor rows_tensor(const at::Tensor& x, at::ScalarType type) {
  at::Tensor out = x.to(type);
  return out.stride(-1) == 1 ? out : out.contiguous();
}

}  // namespace hllm::models
