// Fused ops with hand-written backward against autograd of the plain formulas (llama_ops.h): values and
// gradients in float64 on odd and batched shapes, non-contiguous inputs, and reduced precision.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include <functional>

#include "models/fused_attention.h"
#include "models/fused_rms_norm.h"
#include "models/fused_rope.h"
#include "models/fused_swiglu.h"
#include "models/hllm_towers.h"
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
    const auto plain = evaluate([](const at::Tensor& a, const at::Tensor& b) { return eager::rms_norm(a, b, 1e-5); }, x, w, probe);
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
  const auto reference = evaluate([](const at::Tensor& a, const at::Tensor& b) { return eager::rms_norm(a, b, 1e-5); }, x, w, probe);
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

// The value and the gradients of sum(attention(q, k, v) * probe) with respect to q, k, v.
struct AttentionEvaluated {
  at::Tensor value, dq, dk, dv;
};
template <typename Attention>
AttentionEvaluated evaluate_attention(Attention attention, const at::Tensor& q0, const at::Tensor& k0,
                                      const at::Tensor& v0, const at::Tensor& mask, const at::Tensor& probe) {
  const at::Tensor q = q0.detach().requires_grad_(true), k = k0.detach().requires_grad_(true),
                   v = v0.detach().requires_grad_(true);
  const at::Tensor y = attention(q, k, v, mask);
  const auto grads = torch::autograd::grad({(y.to(probe.scalar_type()) * probe).sum()}, {q, k, v});
  return {y.detach(), grads[0], grads[1], grads[2]};
}

struct AttentionCase {
  int64_t batch, heads, kv_heads, tokens, width;
  std::string mask;  // causal, padding (left, some rows empty), window, per_head (random, some rows empty)
};

at::Tensor case_mask(const AttentionCase& c) {
  const int64_t B = c.batch, T = c.tokens;
  if (c.mask == "causal") return at::Tensor();
  if (c.mask == "padding") {  // row b has b + 1 leading pads (fewer than T)
    at::Tensor real = at::ones({B, T}, at::kBool);
    for (int64_t b = 0; b < B; ++b) real[b].narrow(0, 0, std::min(b + 1, T - 1)).fill_(false);
    return left_padded_mask_and_positions(real).first;
  }
  if (c.mask == "window") return sliding_window_mask(at::Tensor(), T, 3, at::kCPU);
  at::Tensor m = at::rand({B, c.heads, T, T}) > 0.5;
  m.select(2, 1).fill_(false);  // a query row with nothing to attend in every head
  return m;
}

TEST(FusedAttention, MatchesEagerAttentionAndItsAutogradInFloat64) {
  at::manual_seed(6);
  for (const AttentionCase& c : {AttentionCase{2, 4, 4, 7, 8, "causal"}, AttentionCase{3, 6, 2, 9, 5, "causal"},
                                 AttentionCase{4, 4, 1, 6, 3, "padding"}, AttentionCase{2, 4, 2, 10, 6, "window"},
                                 AttentionCase{2, 3, 3, 5, 7, "per_head"}, AttentionCase{1, 2, 2, 1, 4, "causal"},
                                 AttentionCase{2, 8, 2, 33, 16, "padding"}}) {
    const at::Tensor q = at::randn({c.batch, c.heads, c.tokens, c.width}, at::kDouble);
    const at::Tensor k = at::randn({c.batch, c.kv_heads, c.tokens, c.width}, at::kDouble);
    const at::Tensor v = at::randn({c.batch, c.kv_heads, c.tokens, c.width}, at::kDouble);
    const at::Tensor probe = at::randn({c.batch, c.heads, c.tokens, c.width}, at::kDouble);
    const at::Tensor mask = case_mask(c);
    const auto plain = evaluate_attention(eager::attention, q, k, v, mask, probe);
    const auto fused = evaluate_attention(fused_attention, q, k, v, mask, probe);
    const std::string what = c.mask + " B" + std::to_string(c.batch) + " H" + std::to_string(c.heads) + "/" +
                             std::to_string(c.kv_heads) + " T" + std::to_string(c.tokens) + " d" + std::to_string(c.width);
    EXPECT_EQ(fused.value.sizes(), plain.value.sizes()) << what;
    EXPECT_LT(max_abs(fused.value, plain.value), 1e-12) << what;
    EXPECT_LT(max_abs(fused.dq, plain.dq), 1e-10) << what;
    EXPECT_LT(max_abs(fused.dk, plain.dk), 1e-10) << what;
    EXPECT_LT(max_abs(fused.dv, plain.dv), 1e-10) << what;
  }
}

TEST(FusedAttention, RowsThatAttendNothingAreZeroWithZeroGradient) {
  at::manual_seed(7);
  const AttentionCase c{3, 2, 2, 6, 4, "padding"};
  const at::Tensor q = at::randn({3, 2, 6, 4}, at::kDouble), k = at::randn({3, 2, 6, 4}, at::kDouble);
  const at::Tensor v = at::randn({3, 2, 6, 4}, at::kDouble), probe = at::randn({3, 2, 6, 4}, at::kDouble);
  const auto fused = evaluate_attention(fused_attention, q, k, v, case_mask(c), probe);
  // Row b has b + 1 pads in front: its first b + 1 queries attend nothing.
  for (int64_t b = 0; b < 3; ++b) {
    EXPECT_EQ(fused.value[b].narrow(1, 0, b + 1).abs().max().item<double>(), 0.0) << b;
    EXPECT_EQ(fused.dq[b].narrow(1, 0, b + 1).abs().max().item<double>(), 0.0) << b;
    EXPECT_GT(fused.value[b].narrow(1, b + 1, 6 - b - 1).abs().min().item<double>(), 0.0) << b;
  }
  EXPECT_FALSE(at::isnan(fused.value).any().item<bool>());
}

TEST(FusedAttention, NonContiguousInputsAsTheDecoderPassesThem) {
  at::manual_seed(8);
  // The decoder's q, k, v are [B, T, heads, d] products seen as [B, heads, T, d].
  const at::Tensor q = at::randn({2, 9, 4, 6}, at::kDouble).transpose(1, 2);
  const at::Tensor k = at::randn({2, 9, 2, 6}, at::kDouble).transpose(1, 2);
  const at::Tensor v = at::randn({2, 6, 9, 2}, at::kDouble).permute({0, 3, 2, 1});  // last dimension strided
  const at::Tensor probe = at::randn({2, 4, 9, 6}, at::kDouble);
  const auto plain = evaluate_attention(eager::attention, q, k, v, at::Tensor(), probe);
  const auto fused = evaluate_attention(fused_attention, q, k, v, at::Tensor(), probe);
  EXPECT_LT(max_abs(fused.value, plain.value), 1e-12);
  EXPECT_LT(max_abs(fused.dq, plain.dq), 1e-10);
  EXPECT_LT(max_abs(fused.dk, plain.dk), 1e-10);
  EXPECT_LT(max_abs(fused.dv, plain.dv), 1e-10);
}

TEST(FusedAttention, ReducedPrecisionFollowsFloat64) {
  at::manual_seed(9);
  const AttentionCase c{2, 4, 2, 12, 16, "padding"};
  const at::Tensor q = at::randn({2, 4, 12, 16}), k = at::randn({2, 2, 12, 16}), v = at::randn({2, 2, 12, 16});
  const at::Tensor probe = at::randn({2, 4, 12, 16}, at::kDouble);
  const at::Tensor mask = case_mask(c);
  const auto reference = evaluate_attention(eager::attention, q.to(at::kDouble), k.to(at::kDouble), v.to(at::kDouble),
                                            mask, probe);
  for (const auto dtype : {at::kFloat, at::kBFloat16}) {
    const auto fused = evaluate_attention(fused_attention, q.to(dtype), k.to(dtype), v.to(dtype), mask, probe);
    const double tolerance = dtype == at::kFloat ? 1e-5 : 3e-2;
    EXPECT_EQ(fused.value.scalar_type(), dtype);
    EXPECT_EQ(fused.dk.scalar_type(), dtype);
    EXPECT_LT(max_abs(fused.value, reference.value) / reference.value.abs().max().item<double>(), tolerance) << dtype;
    for (const auto& [mine, theirs] : {std::pair{fused.dq, reference.dq}, {fused.dk, reference.dk}, {fused.dv, reference.dv}}) {
      EXPECT_LT(max_abs(mine, theirs) / theirs.abs().max().item<double>(), tolerance) << dtype;
    }
  }
}

TEST(FusedAttention, RefusesMismatchedShapes) {
  const at::Tensor q = at::randn({1, 4, 5, 8}), k = at::randn({1, 3, 5, 8});
  EXPECT_THROW(fused_attention(q, k, k, at::Tensor()), std::exception);  // 4 heads over 3 kv heads
  EXPECT_THROW(fused_attention(q, q, q, at::ones({1, 1, 5, 5})), std::exception);  // a float mask
}

// Values and input gradients of sum(f(inputs) * probe).
std::vector<at::Tensor> value_and_gradients(const std::function<at::Tensor(const std::vector<at::Tensor>&)>& f,
                                            const std::vector<at::Tensor>& inputs0, const at::Tensor& probe) {
  std::vector<at::Tensor> inputs;
  for (const auto& x : inputs0) inputs.push_back(x.detach().requires_grad_(true));
  const at::Tensor y = f(inputs);
  std::vector<at::Tensor> out{y.detach()};
  for (const auto& g : torch::autograd::grad({(y.to(probe.scalar_type()) * probe).sum()}, inputs)) out.push_back(g);
  return out;
}

TEST(FusedRope, MatchesThePlainFormulaAndItsAutogradInFloat64) {
  at::manual_seed(10);
  struct Case {
    int64_t batch, heads, tokens, width;
    bool per_row_positions;  // [B, 1, T, d] tables (the User LLM's left padding) instead of [T, d]
  };
  for (const Case& c : {Case{2, 3, 5, 8, false}, Case{1, 1, 1, 2, false}, Case{3, 4, 7, 6, true}, Case{2, 2, 33, 64, true}}) {
    const at::Tensor positions = c.per_row_positions ? at::randint(0, 50, {c.batch, c.tokens}, at::kLong)
                                                     : at::arange(c.tokens, at::kLong);
    auto [cos, sin] = rope_tables(positions, c.width, 10000.0);
    if (c.per_row_positions) cos = cos.unsqueeze(1), sin = sin.unsqueeze(1);
    // As the decoder passes them: [B, T, H, d] products seen as [B, H, T, d].
    const at::Tensor x = at::randn({c.batch, c.tokens, c.heads, c.width}, at::kDouble).transpose(1, 2);
    const at::Tensor probe = at::randn({c.batch, c.heads, c.tokens, c.width}, at::kDouble);
    const at::Tensor cos64 = cos.to(at::kDouble), sin64 = sin.to(at::kDouble);
    const auto plain = value_and_gradients([&](const auto& in) { return eager::apply_rope(in[0], cos64, sin64); }, {x}, probe);
    const auto fused = value_and_gradients([&](const auto& in) { return fused_rope(in[0], cos64, sin64); }, {x}, probe);
    EXPECT_LT(max_abs(fused[0], plain[0]), 1e-12) << c.width;
    EXPECT_LT(max_abs(fused[1], plain[1]), 1e-12) << c.width;
    EXPECT_EQ(fused[0].strides(), x.strides()) << "the output keeps the input's layout";
  }
  // Tables whose halves differ (rope_tables repeats one half twice, which would hide a backward that reads
  // the wrong half's sines): the formula is linear in x for any tables.
  const at::Tensor x = at::randn({2, 3, 5, 8}, at::kDouble), probe = at::randn({2, 3, 5, 8}, at::kDouble);
  const at::Tensor cos = at::randn({5, 8}, at::kDouble), sin = at::randn({5, 8}, at::kDouble);
  const auto plain = value_and_gradients([&](const auto& in) { return eager::apply_rope(in[0], cos, sin); }, {x}, probe);
  const auto fused = value_and_gradients([&](const auto& in) { return fused_rope(in[0], cos, sin); }, {x}, probe);
  EXPECT_LT(max_abs(fused[0], plain[0]), 1e-12);
  EXPECT_LT(max_abs(fused[1], plain[1]), 1e-12);
}

TEST(FusedRope, ReducedPrecisionFollowsFloat32) {
  at::manual_seed(11);
  const auto [cos, sin] = rope_tables(at::arange(9, at::kLong), 16, 10000.0);
  const at::Tensor x = at::randn({2, 4, 9, 16}), probe = at::randn({2, 4, 9, 16});
  const auto reference = value_and_gradients([&](const auto& in) { return eager::apply_rope(in[0], cos, sin); }, {x}, probe);
  const auto f32 = value_and_gradients([&](const auto& in) { return fused_rope(in[0], cos, sin); }, {x}, probe);
  EXPECT_LT(max_abs(f32[0], reference[0]), 1e-5);
  EXPECT_LT(max_abs(f32[1], reference[1]), 1e-5);
  const auto bf16 = value_and_gradients([&](const auto& in) { return fused_rope(in[0], cos, sin); }, {x.to(at::kBFloat16)}, probe);
  EXPECT_EQ(bf16[0].scalar_type(), at::kBFloat16);
  EXPECT_EQ(bf16[1].scalar_type(), at::kBFloat16);
  EXPECT_LT(max_abs(bf16[0], reference[0]), 5e-2);
  EXPECT_LT(max_abs(bf16[1], reference[1]), 5e-2);
}

TEST(FusedSwigluGate, MatchesThePlainFormulaAndItsAutogradInFloat64) {
  at::manual_seed(12);
  for (const std::vector<int64_t>& shape : {std::vector<int64_t>{7}, {3, 17}, {2, 5, 64}}) {
    const at::Tensor g = at::randn(shape, at::kDouble) * 4, u = at::randn(shape, at::kDouble);
    const at::Tensor probe = at::randn(shape, at::kDouble);
    const auto plain = value_and_gradients([](const auto& in) { return at::silu(in[0]) * in[1]; }, {g, u}, probe);
    const auto fused = value_and_gradients([](const auto& in) { return fused_swiglu_gate(at::cat({in[0], in[1]}, -1)); }, {g, u}, probe);
    for (size_t i = 0; i < 3; ++i) EXPECT_LT(max_abs(fused[i], plain[i]), 1e-12) << at::IntArrayRef(shape) << " " << i;
  }
}

TEST(FusedSwigluGate, Float32AcrossTheVectorizedExpRangeAndReducedPrecision) {
  at::manual_seed(13);
  // 1,003 values: full vectors and a tail; gates from -100 to 100 reach exp's clamps on both sides.
  const at::Tensor g = at::linspace(-100, 100, 1003, at::kDouble), u = at::randn({1003}, at::kDouble);
  const at::Tensor probe = at::randn({1003}, at::kDouble);
  const auto reference = value_and_gradients([](const auto& in) { return at::silu(in[0]) * in[1]; }, {g, u}, probe);
  const auto f32 = value_and_gradients([](const auto& in) { return fused_swiglu_gate(at::cat({in[0], in[1]}, -1)); },
                                       {g.to(at::kFloat), u.to(at::kFloat)}, probe);
  for (size_t i = 0; i < 3; ++i) {
    const at::Tensor error = (f32[i].to(at::kDouble) - reference[i]).abs();
    EXPECT_TRUE(at::all(error <= 1e-6 + 1e-5 * reference[i].abs()).item<bool>()) << i << ": " << error.max().item<double>();
  }
  const auto bf16 = value_and_gradients([](const auto& in) { return fused_swiglu_gate(at::cat({in[0], in[1]}, -1)); },
                                        {g.to(at::kBFloat16), u.to(at::kBFloat16)}, probe);
  EXPECT_EQ(bf16[0].scalar_type(), at::kBFloat16);
  EXPECT_LT(max_abs(bf16[0], reference[0]) / reference[0].abs().max().item<double>(), 2e-2);
  EXPECT_THROW(fused_swiglu_gate(at::randn({2, 3})), std::exception);  // an odd width has no two halves
}

}  // namespace
}  // namespace hllm::models
