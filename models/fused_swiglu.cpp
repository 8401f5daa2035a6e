#include "models/fused_swiglu.h"

#include <torch/csrc/autograd/custom_function.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "common/error.h"
#include "models/vector_math.h"

namespace hllm::models {
namespace {

namespace vm = vector_math;

// Elements per at::parallel_for task: enough that a thread's start-up is small beside its work.
constexpr int64_t kGrain = 16384;

// sigma(g) for 16 floats.
HLLM_INLINE vm::Floats sigmoid(vm::Floats g) { return 1.0f / (1.0f + vm::exp(-g)); }

HLLM_CPU_CLONES void forward_float(const float* g, const float* u, float* h, int64_t begin, int64_t end) {
  int64_t i = begin;
  for (; i + vm::kFloats <= end; i += vm::kFloats) {
    const vm::Floats gi = vm::load<vm::Floats>(g + i);
    vm::store(h + i, gi * sigmoid(gi) * vm::load<vm::Floats>(u + i));
  }
  for (; i < end; ++i) h[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
}

HLLM_CPU_CLONES void backward_float(const float* g, const float* u, const float* dh, float* dg, float* du,
                                       int64_t begin, int64_t end) {
  int64_t i = begin;
  for (; i + vm::kFloats <= end; i += vm::kFloats) {
    const vm::Floats gi = vm::load<vm::Floats>(g + i), di = vm::load<vm::Floats>(dh + i);
    const vm::Floats s = sigmoid(gi);
    vm::store(dg + i, di * vm::load<vm::Floats>(u + i) * s * (1.0f + gi * (1.0f - s)));
    vm::store(du + i, di * gi * s);
  }
  for (; i < end; ++i) {
    const float s = 1.0f / (1.0f + std::exp(-g[i]));
    dg[i] = dh[i] * u[i] * s * (1.0f + g[i] * (1.0f - s));
    du[i] = dh[i] * g[i] * s;
  }
}

void forward_double(const double* g, const double* u, double* h, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) h[i] = g[i] / (1.0 + std::exp(-g[i])) * u[i];
}

void backward_double(const double* g, const double* u, const double* dh, double* dg, double* du, int64_t begin,
                     int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    const double s = 1.0 / (1.0 + std::exp(-g[i]));
    dg[i] = dh[i] * u[i] * s * (1.0 + g[i] * (1.0 - s));
    du[i] = dh[i] * g[i] * s;
  }
}

at::ScalarType compute_type(const at::Tensor& x) { return x.scalar_type() == at::kDouble ? at::kDouble : at::kFloat; }

struct SiluMulFunction : public torch::autograd::Function<SiluMulFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* context, const at::Tensor& g_input,
                            const at::Tensor& u_input) {
    const auto type = compute_type(g_input);
    const at::Tensor g = g_input.to(type).contiguous(), u = u_input.to(type).contiguous();
    at::Tensor h = at::empty_like(g, at::MemoryFormat::Contiguous);
    const int64_t n = g.numel();
    if (type == at::kFloat) {
      at::parallel_for(0, n, kGrain, [&](int64_t begin, int64_t end) {
        forward_float(g.data_ptr<float>(), u.data_ptr<float>(), h.data_ptr<float>(), begin, end);
      });
    } else {
      at::parallel_for(0, n, kGrain, [&](int64_t begin, int64_t end) {
        forward_double(g.data_ptr<double>(), u.data_ptr<double>(), h.data_ptr<double>(), begin, end);
      });
    }
    context->save_for_backward({g_input, u_input});  // in their own dtype: the node's whole memory
    return h.to(g_input.scalar_type());
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* context,
                                                 torch::autograd::variable_list grads) {
    const auto saved = context->get_saved_variables();
    const auto type = compute_type(saved[0]);
    const at::Tensor g = saved[0].to(type).contiguous(), u = saved[1].to(type).contiguous();
    const at::Tensor dh = grads[0].to(type).contiguous();
    at::Tensor dg = at::empty_like(g, at::MemoryFormat::Contiguous), du = at::empty_like(u, at::MemoryFormat::Contiguous);
    const int64_t n = g.numel();
    if (type == at::kFloat) {
      at::parallel_for(0, n, kGrain, [&](int64_t begin, int64_t end) {
        backward_float(g.data_ptr<float>(), u.data_ptr<float>(), dh.data_ptr<float>(), dg.data_ptr<float>(),
                       du.data_ptr<float>(), begin, end);
      });
    } else {
      at::parallel_for(0, n, kGrain, [&](int64_t begin, int64_t end) {
        backward_double(g.data_ptr<double>(), u.data_ptr<double>(), dh.data_ptr<double>(), dg.data_ptr<double>(),
                        du.data_ptr<double>(), begin, end);
      });
    }
    return {dg.to(saved[0].scalar_type()), du.to(saved[1].scalar_type())};
  }
};

}  // namespace

at::Tensor fused_silu_mul(const at::Tensor& g, const at::Tensor& u) {
  HLLM_CHECK(g.device().is_cpu() && u.device().is_cpu(), "fused_silu_mul: CPU tensors only, got ", g.device());
  HLLM_CHECK(g.sizes() == u.sizes(), "fused_silu_mul: gate ", g.sizes(), " and up ", u.sizes(), " differ in shape");
  return SiluMulFunction::apply(g, u);
}

}  // namespace hllm::models
