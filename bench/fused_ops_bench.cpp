// fused_ops_bench: forward + backward of each op with a hand-written backward (models/fused_*.h) beside the
// plain formula under autograd (models/llama_ops.h), on the same tensors in one run, at the shapes of the
// tiny and 1b presets' Item LLM layers, with the host caching allocator hllm_launch installs.
//
//   build/bin/fused_ops_bench [--rows 4096] [--threads 0] [--seconds 2]
//
// SwiGLU's gate and RoPE run at the tiny and 1b widths; attention at one Item LLM bucket of each preset (16
// items of 45 tokens; 2 of 270, grouped kv heads).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gflags/gflags.h>
#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <utility>

#include "bench/seconds_per_call.h"
#include "models/fused_attention.h"
#include "models/fused_rms_norm.h"
#include "models/fused_rope.h"
#include "models/fused_swiglu.h"
#include "models/llama_ops.h"
#include "runtime/host_caching_allocator.h"

DEFINE_int32(rows, 4096, "Tokens per call (rows of the [rows, D] input).");
DEFINE_int32(threads, 0, "LibTorch intra-op threads; 0 = LibTorch's default.");
DEFINE_double(seconds, 2.0, "Time per measurement.");

namespace hllm::bench {
namespace {

// Seconds of one forward + backward of `norm` on x [rows, D] in `dtype`.
template <typename Norm>
double forward_backward_seconds(Norm norm, int64_t width, at::ScalarType dtype) {
  const at::Tensor x = at::randn({FLAGS_rows, width}).to(dtype).requires_grad_(true);
  const at::Tensor w = at::randn({width}).to(dtype).requires_grad_(true);
  const at::Tensor dy = at::randn({FLAGS_rows, width}).to(dtype);
  return seconds_per_call([&] { torch::autograd::grad({norm(x, w)}, {x, w}, {dy}); }, FLAGS_seconds);
}

struct AttentionShape {
  const char* name;
  int64_t batch, heads, kv_heads, tokens, width;
};

// Seconds of one forward + backward of `attention` (causal) at `shape`, float32.
template <typename Attention>
double attention_seconds(Attention attention, const AttentionShape& shape) {
  const at::Tensor q = at::randn({shape.batch, shape.heads, shape.tokens, shape.width}).requires_grad_(true);
  const at::Tensor k = at::randn({shape.batch, shape.kv_heads, shape.tokens, shape.width}).requires_grad_(true);
  const at::Tensor v = at::randn({shape.batch, shape.kv_heads, shape.tokens, shape.width}).requires_grad_(true);
  const at::Tensor dy = at::randn({shape.batch, shape.heads, shape.tokens, shape.width});
  return seconds_per_call([&] { torch::autograd::grad({attention(q, k, v, at::Tensor())}, {q, k, v}, {dy}); },
                          FLAGS_seconds);
}

void run_attention() {
  std::printf("\ncausal attention forward + backward, float32, %d threads (ms per call; eager = products, masked "
              "softmax and NaN-zeroing under autograd)\n", at::get_num_threads());
  std::printf("%-26s %10s %10s %10s\n", "shape", "eager", "fused", "speed-up");
  for (const AttentionShape& shape : {AttentionShape{"tiny: 16 x 4 heads x 45", 16, 4, 4, 45, 32},
                                      AttentionShape{"1b: 2 x 32/4 heads x 270", 2, 32, 4, 270, 64}}) {
    const double eager = attention_seconds(models::eager::attention, shape);
    const double fused = attention_seconds(models::fused_attention, shape);
    std::printf("%-26s %10.3f %10.3f %9.2fx\n", shape.name, eager * 1e3, fused * 1e3, eager / fused);
  }
}

// Seconds of one forward + backward of silu(g) * u from the stacked product [g | u] ([rows, 2F]), plain
// (a split and two ops under autograd) or fused.
double gate_seconds(bool fused, int64_t width) {
  const at::Tensor gate_up = at::randn({FLAGS_rows, 2 * width}).requires_grad_(true);
  const at::Tensor dy = at::randn({FLAGS_rows, width});
  return seconds_per_call(
      [&] {
        const auto halves = gate_up.split(width, -1);
        const at::Tensor y = fused ? models::fused_swiglu_gate(gate_up) : at::silu(halves[0]) * halves[1];
        torch::autograd::grad({y}, {gate_up}, {dy});
      },
      FLAGS_seconds);
}

// Seconds of one forward + backward of RoPE on q as the decoder has it ([rows / T, T, H, d] seen as
// [B, H, T, d]), plain or fused.
double rope_seconds(bool fused, int64_t heads, int64_t width) {
  const int64_t T = 64, B = std::max<int64_t>(1, FLAGS_rows / T);
  const auto [cos, sin] = models::rope_tables(at::arange(T), width, 10000.0);
  const at::Tensor x = at::randn({B, T, heads, width}).transpose(1, 2).requires_grad_(true);
  const at::Tensor dy = at::randn({B, heads, T, width});
  return seconds_per_call(
      [&] {
        const at::Tensor y = fused ? models::fused_rope(x, cos, sin) : models::eager::apply_rope(x, cos, sin);
        torch::autograd::grad({y}, {x}, {dy});
      },
      FLAGS_seconds);
}

void run_gate_and_rope() {
  std::printf("\nSwiGLU's gate silu(g) * u and RoPE forward + backward, float32, %d rows (ms per call)\n", FLAGS_rows);
  std::printf("%-26s %10s %10s %10s\n", "op", "plain", "fused", "speed-up");
  for (const int64_t width : {344, 5632}) {
    const double plain = gate_seconds(false, width), fused = gate_seconds(true, width);
    std::printf("%-26s %10.3f %10.3f %9.2fx\n", ("gate, F " + std::to_string(width)).c_str(), plain * 1e3, fused * 1e3,
                plain / fused);
  }
  for (const auto& [heads, width] : {std::pair<int64_t, int64_t>{4, 32}, {32, 64}}) {
    const double plain = rope_seconds(false, heads, width), fused = rope_seconds(true, heads, width);
    std::printf("%-26s %10.3f %10.3f %9.2fx\n",
                ("rope, " + std::to_string(heads) + " heads x " + std::to_string(width)).c_str(), plain * 1e3,
                fused * 1e3, plain / fused);
  }
}

int run() {
  // The heap as hllm_launch keeps it: large tensors reuse cached blocks instead of fresh, faulting pages.
  runtime::install_host_caching_allocator();
  if (FLAGS_threads > 0) at::set_num_threads(FLAGS_threads);
  std::printf("RMSNorm forward + backward, %d rows, %d threads (ms per call; plain = llama_ops.h under autograd)\n",
              FLAGS_rows, at::get_num_threads());
  std::printf("%-6s %-9s %10s %10s %10s\n", "D", "dtype", "plain", "fused", "speed-up");
  for (const int64_t width : {128, 2048}) {
    for (const auto dtype : {at::kFloat, at::kBFloat16}) {
      const double plain = forward_backward_seconds(
          [](const at::Tensor& x, const at::Tensor& w) { return models::eager::rms_norm(x, w, 1e-5); }, width, dtype);
      const double fused = forward_backward_seconds(
          [](const at::Tensor& x, const at::Tensor& w) { return models::fused_rms_norm(x, w, 1e-5); }, width, dtype);
      std::printf("%-6ld %-9s %10.3f %10.3f %9.2fx\n", static_cast<long>(width), c10::toString(dtype), plain * 1e3,
                  fused * 1e3, plain / fused);
    }
  }
  run_gate_and_rope();
  run_attention();
  return 0;
}

}  // namespace
}  // namespace hllm::bench

int main(int argc, char** argv) {
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  return hllm::bench::run();
}
