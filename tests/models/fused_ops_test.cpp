// Fused ops with hand-written backward against autograd of the plain formulas (llama_ops.h): values and
// gradients in float64 on odd and batched shapes, non-contiguous inputs, and reduced precision.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include "models/fused_rms_norm.h"
#include "models/llama_ops.h"

namespace hllm::models {
namespace {

double max_abs(const at::Tensor& a, const at::Tensor& b) { return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>(); }

// The value and the gradients of sum(f(x, w) * probe) with respect to x and w.
struct Evaluated {
  at::Tensor value, dx, dw;
};
template <typename Norm>
Evaluated evaluate(Norm norm, const at::Tensor& x0, const at::Tensor& w0, const at::Tensor& probe) {
  const at::Tensor x = x0.detach().requires_grad_(true), w = w0.detach().requires_grad_(true);
  const at::Tensor y = norm(x, w);
  const auto grads = torch::autograd::grad({(y.to(probe.scalar_type()) * probe).sum()}, {x, w});
  return {y.detach(), grads[0], grads[1]};
}

TEST(FusedRmsNorm, MatchesThePlainFormulaAndItsAutogradInFloat64) {
  at::manual_seed(3);
  for (const std::vector<int64_t>& shape : {std::vector<int64_t>{5, 1}, {3, 7}, {2, 3, 17}, {1, 9, 64}, {4, 130}}) {
    const at::Tensor x = at::randn(shape, at::kDouble) * 3;
    const at::Tensor w = at::randn({shape.back()}, at::kDouble);
    const at::Tensor probe = at::randn(shape, at::kDouble);
    const auto plain = evaluate([](const at::Tensor& a, const at::Tensor& b) { return rms_norm(a, b, 1e-5); }, x, w, probe);
    const auto fused = evaluate([](const at::Tensor& a, const at::Tensor& b) { return fused_rms_norm(a, b, 1e-5); }, x, w, probe);
    EXPECT_LT(max_abs(fused.value, plain.value), 1e-12) << at::IntArrayRef(shape);
    EXPECT_LT(max_abs(fused.dx, plain.dx), 1e-10) << at::IntArrayRef(shape);
    EXPECT_LT(max_abs(fused.dw, plain.dw), 1e-10) << at::IntArrayRef(shape);
  }
}

TEST(FusedRmsNorm, NonContiguousInputAndFiniteDifferences) {
  at::manual_seed(4);
  const at::Tensor x = at::randn({6, 5}, at::kDouble).t();  // [5, 6], not contiguous
  const at::Tensor w = at::randn({6}, at::kDouble);
  const at::Tensor probe = at::randn({5, 6}, at::kDouble);
  const auto fused = evaluate([](const at::Tensor& a, const at::Tensor& b) { return fused_rms_norm(a, b, 1e-6); }, x, w, probe);
  // Central differences of sum(y * probe) in a few coordinates of x and w.
  const auto loss = [&](const at::Tensor& a, const at::Tensor& b) { return (fused_rms_norm(a, b, 1e-6) * probe).sum().item<double>(); };
  const double h = 1e-6;
  for (int k = 0; k < 4; ++k) {
    at::Tensor plus = x.clone(), minus = x.clone();
    plus[k][k] += h;
    minus[k][k] -= h;
    EXPECT_NEAR(fused.dx[k][k].item<double>(), (loss(plus, w) - loss(minus, w)) / (2 * h), 1e-6);
    at::Tensor w_plus = w.clone(), w_minus = w.clone();
    w_plus[k] += h;
    w_minus[k] -= h;
    EXPECT_NEAR(fused.dw[k].item<double>(), (loss(x, w_plus) - loss(x, w_minus)) / (2 * h), 1e-6);
  }
}

TEST(FusedRmsNorm, ReducedPrecisionFollowsFloat32) {
  at::manual_seed(5);
  const at::Tensor x = at::randn({8, 96});
  const at::Tensor w = at::randn({96});
  const at::Tensor probe = at::randn({8, 96});
  const auto reference = evaluate([](const at::Tensor& a, const at::Tensor& b) { return rms_norm(a, b, 1e-5); }, x, w, probe);
  for (const auto dtype : {at::kFloat, at::kBFloat16}) {
    const auto fused = evaluate([](const at::Tensor& a, const at::Tensor& b) { return fused_rms_norm(a, b, 1e-5); },
                                x.to(dtype), w.to(dtype), probe);
    const double tolerance = dtype == at::kFloat ? 1e-5 : 5e-2;
    EXPECT_EQ(fused.value.scalar_type(), dtype);
    EXPECT_EQ(fused.dx.scalar_type(), dtype);
    EXPECT_LT(max_abs(fused.value, reference.value), tolerance * 4) << dtype;
    EXPECT_LT(max_abs(fused.dx, reference.dx) / reference.dx.abs().max().item<double>(), tolerance) << dtype;
    EXPECT_LT(max_abs(fused.dw, reference.dw) / reference.dw.abs().max().item<double>(), tolerance) << dtype;
  }
}

}  // namespace
}  // namespace hllm::models
