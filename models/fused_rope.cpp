#include "models/fused_rope.h"

#include <torch/csrc/autograd/custom_function.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "common/error.h"
#include "models/compute_type.h"
#include "models/vector_math.h"

namespace hllm::models {
namespace {

template <typename A>
using Rows = vector_math::HeadRows<A>;

template <typename A, typename Data = A>
Rows<Data> rows_of(const at::Tensor& x) {
  return {x.data_ptr<A>(), x.stride(0), x.stride(1), x.stride(2)};
}

template <typename A>
struct Rotation {
  Rows<const A> x, cos, sin;
  Rows<A> y;
  int64_t heads, tokens, half;
  bool transposed;  // the backward's R^T
};

// One row, the header's formulas: the rotation (forward) or its transpose (backward).
template <typename A>
HLLM_INLINE void rotate_row(const A* __restrict x, const A* __restrict cos, const A* __restrict sin, A* __restrict y,
                            int64_t half, bool transposed) {
  if (transposed) {
    for (int64_t c = 0; c < half; ++c) {
      y[c] = x[c] * cos[c] + x[c + half] * sin[c + half];
      y[c + half] = x[c + half] * cos[c + half] - x[c] * sin[c];
    }
    return;
  }
  for (int64_t c = 0; c < half; ++c) {
    y[c] = x[c] * cos[c] - x[c + half] * sin[c];
    y[c + half] = x[c + half] * cos[c + half] + x[c] * sin[c + half];
  }
}

template <typename A>
HLLM_INLINE void rotate_rows(const Rotation<A>& r, int64_t begin, int64_t end) {
  for (int64_t row = begin; row < end; ++row) {
    const int64_t b = row / (r.heads * r.tokens), h = (row / r.tokens) % r.heads, t = row % r.tokens;
    rotate_row(r.x.row(b, h, t), r.cos.row(b, h, t), r.sin.row(b, h, t), r.y.row(b, h, t), r.half, r.transposed);
  }
}

HLLM_CPU_CLONES void rotate_float(const Rotation<float>& r, int64_t begin, int64_t end) { rotate_rows(r, begin, end); }
void rotate_double(const Rotation<double>& r, int64_t begin, int64_t end) { rotate_rows(r, begin, end); }
void rotate(const Rotation<float>& r, int64_t begin, int64_t end) { rotate_float(r, begin, end); }
void rotate(const Rotation<double>& r, int64_t begin, int64_t end) { rotate_double(r, begin, end); }

// y = R x (forward) or R^T x (backward) with the tables broadcast to x's [B, H, T, d].
at::Tensor apply_rotation(const at::Tensor& x_input, const at::Tensor& cos_table, const at::Tensor& sin_table,
                          bool transposed) {
  const auto type = compute_type(x_input);
  const at::Tensor x = rows_tensor(x_input, type);
  const at::Tensor cos = rows_tensor(cos_table, type).expand(x.sizes());
  const at::Tensor sin = rows_tensor(sin_table, type).expand(x.sizes());
  at::Tensor y = at::empty_like(x);  // x's layout
  if (y.stride(-1) != 1) y = at::empty(x.sizes(), x.options());
  const int64_t rows = x.size(0) * x.size(1) * x.size(2);
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, x.size(3)));
  AT_DISPATCH_FLOATING_TYPES(type, "fused_rope", [&] {
    using Const = const scalar_t;
    const Rotation<scalar_t> r{rows_of<scalar_t, Const>(x), rows_of<scalar_t, Const>(cos), rows_of<scalar_t, Const>(sin),
                               rows_of<scalar_t>(y), x.size(1), x.size(2), x.size(3) / 2, transposed};
    at::parallel_for(0, rows, grain, [&](int64_t begin, int64_t end) { rotate(r, begin, end); });
  });
  return y.to(x_input.scalar_type());
}

struct RopeFunction : public torch::autograd::Function<RopeFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* context, const at::Tensor& x, const at::Tensor& cos,
                            const at::Tensor& sin) {
    context->save_for_backward({cos, sin});
    return apply_rotation(x, cos, sin, false);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* context,
                                                 torch::autograd::variable_list grads) {
    const auto saved = context->get_saved_variables();
    return {apply_rotation(grads[0], saved[0], saved[1], true), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor fused_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  HLLM_CHECK(x.device().is_cpu() && cos.device().is_cpu() && sin.device().is_cpu(), "fused_rope: CPU tensors only");
  HLLM_CHECK(x.dim() == 4 && x.size(3) % 2 == 0, "fused_rope: x must be [B, H, T, d] with d even, got ", x.sizes());
  HLLM_CHECK(cos.sizes() == sin.sizes() && (cos.dim() == 2 || cos.dim() == 4) && cos.size(-1) == x.size(3) &&
                 cos.size(-2) == x.size(2),
             "fused_rope: tables ", cos.sizes(), " do not fit x ", x.sizes());
  return RopeFunction::apply(x, cos, sin);
}

}  // namespace hllm::models
