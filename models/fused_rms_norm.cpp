#include "models/fused_rms_norm.h"

#include <torch/csrc/autograd/custom_function.h>

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <cmath>
#include <vector>

#include "common/error.h"
#include "models/compute_type.h"

namespace hllm::models {
namespace {

// The arithmetic type of an element type: float for float, bfloat16 and half; double for double.
template <typename T>
using Accumulate = std::conditional_t<std::is_same_v<T, double>, double, float>;

// Rows of at least this many elements in all are worth a thread (at::parallel_for's grain, in rows).
int64_t grain_rows(int64_t width) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(1, width)); }

// y [rows, D] and r [rows] from x [rows, D] and w [D].
template <typename T>
void forward_rows(const T* x, const T* w, T* y, Accumulate<T>* r, int64_t rows, int64_t width, double eps) {
  using A = Accumulate<T>;
  at::parallel_for(0, rows, grain_rows(width), [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const T* in = x + row * width;
      A squares = 0;
      for (int64_t i = 0; i < width; ++i) squares += static_cast<A>(in[i]) * static_cast<A>(in[i]);
      const A scale = A(1) / std::sqrt(squares / static_cast<A>(width) + static_cast<A>(eps));
      r[row] = scale;
      T* out = y + row * width;
      for (int64_t i = 0; i < width; ++i) out[i] = static_cast<T>(static_cast<A>(in[i]) * scale * static_cast<A>(w[i]));
    }
  });
}

// dx [rows, D] and dw [D] (in the compute type) from dy, x, w, r.
template <typename T>
void backward_rows(const T* dy, const T* x, const T* w, const Accumulate<T>* r, T* dx, Accumulate<T>* dw,
                   int64_t rows, int64_t width) {
  using A = Accumulate<T>;
  // dw: one partial sum per thread, added at the end, so no two threads write one element.
  std::vector<std::vector<A>> partial(static_cast<size_t>(at::get_num_threads()));
  at::parallel_for(0, rows, grain_rows(width), [&](int64_t begin, int64_t end) {
    std::vector<A>& mine = partial[static_cast<size_t>(at::get_thread_num())];
    if (mine.empty()) mine.assign(static_cast<size_t>(width), A(0));
    for (int64_t row = begin; row < end; ++row) {
      const T* g_out = dy + row * width;
      const T* in = x + row * width;
      const A scale = r[row];
      A dot = 0;  // sum of (dy * w) * x
      for (int64_t i = 0; i < width; ++i) {
        const A g = static_cast<A>(g_out[i]) * static_cast<A>(w[i]);
        dot += g * static_cast<A>(in[i]);
        mine[static_cast<size_t>(i)] += static_cast<A>(g_out[i]) * static_cast<A>(in[i]) * scale;
      }
      const A correction = scale * scale * dot / static_cast<A>(width);
      T* g_in = dx + row * width;
      for (int64_t i = 0; i < width; ++i) {
        const A g = static_cast<A>(g_out[i]) * static_cast<A>(w[i]);
        g_in[i] = static_cast<T>(scale * (g - static_cast<A>(in[i]) * correction));
      }
    }
  });
  for (int64_t i = 0; i < width; ++i) dw[i] = 0;
  for (const auto& sums : partial) {
    for (size_t i = 0; i < sums.size(); ++i) dw[i] += sums[i];
  }
}

// Rows of width x.size(-1) in x (0 for an empty last dimension).
int64_t row_count(const at::Tensor& x) { return x.size(-1) == 0 ? 0 : x.numel() / x.size(-1); }

struct RmsNormFunction : public torch::autograd::Function<RmsNormFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* context, const at::Tensor& input,
                            const at::Tensor& weight_input, double eps) {
    const at::Tensor x = input.contiguous();
    const at::Tensor w = weight_input.to(x.scalar_type()).contiguous();
    const int64_t width = x.size(-1), rows = row_count(x);
    at::Tensor y = at::empty_like(x);
    at::Tensor r = at::empty({rows}, x.options().dtype(compute_type(x)));
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, x.scalar_type(), "fused_rms_norm", [&] {
      forward_rows<scalar_t>(x.data_ptr<scalar_t>(), w.data_ptr<scalar_t>(), y.data_ptr<scalar_t>(),
                             r.data_ptr<Accumulate<scalar_t>>(), rows, width, eps);
    });
    context->save_for_backward({x, weight_input, r});
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* context,
                                                 torch::autograd::variable_list grads) {
    const auto saved = context->get_saved_variables();
    const at::Tensor& x = saved[0];
    const at::Tensor& weight = saved[1];
    const at::Tensor& r = saved[2];
    const at::Tensor dy = grads[0].to(x.scalar_type()).contiguous();
    const at::Tensor w = weight.to(x.scalar_type()).contiguous();
    const int64_t width = x.size(-1), rows = row_count(x);
    at::Tensor dx = at::empty_like(x);
    at::Tensor dw = at::empty({width}, x.options().dtype(compute_type(x)));
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, x.scalar_type(), "fused_rms_norm_backward", [&] {
      backward_rows<scalar_t>(dy.data_ptr<scalar_t>(), x.data_ptr<scalar_t>(), w.data_ptr<scalar_t>(),
                              r.data_ptr<Accumulate<scalar_t>>(), dx.data_ptr<scalar_t>(),
                              dw.data_ptr<Accumulate<scalar_t>>(), rows, width);
    });
    return {dx, dw.to(weight.scalar_type()), at::Tensor()};
  }
};

}  // namespace

at::Tensor fused_rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  HLLM_CHECK(x.device().is_cpu() && weight.device().is_cpu(), "fused_rms_norm: CPU tensors only, got ", x.device());
  HLLM_CHECK(weight.dim() == 1 && weight.size(0) == x.size(-1), "fused_rms_norm: weight ", weight.sizes(),
             " does not match the last dimension of x ", x.sizes());
  return RmsNormFunction::apply(x, weight, eps);
}

}  // namespace hllm::models
