// fused_ops_bench: forward + backward of each op with a hand-written backward (models/fused_*.h) beside the
// plain formula under autograd (models/llama_ops.h), on the same tensors in one run, at the shapes of the
// tiny and 1b presets' Item LLM layers, with the host caching allocator hllm_launch installs.
//
//   build/bin/fused_ops_bench [--rows 4096] [--threads 0] [--seconds 2]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gflags/gflags.h>
#include <torch/csrc/autograd/autograd.h>

#include <cstdio>

#include "bench/seconds_per_call.h"
#include "models/fused_rms_norm.h"
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
          [](const at::Tensor& x, const at::Tensor& w) { return models::rms_norm(x, w, 1e-5); }, width, dtype);
      const double fused = forward_backward_seconds(
          [](const at::Tensor& x, const at::Tensor& w) { return models::fused_rms_norm(x, w, 1e-5); }, width, dtype);
      std::printf("%-6ld %-9s %10.3f %10.3f %9.2fx\n", static_cast<long>(width), c10::toString(dtype), plain * 1e3,
                  fused * 1e3, plain / fused);
    }
  }
  return 0;
}

}  // namespace
}  // namespace hllm::bench

int main(int argc, char** argv) {
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  return hllm::bench::run();
}
