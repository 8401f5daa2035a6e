#include "models/fused_swiglu.h"

#include <torch/csrc/autograd/custom_function.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <vector>

#include "common/error.h"
#include "models/compute_type.h"
#include "models/vector_math.h"

namespace hllm::models {
namespace {

namespace vm = vector_math;

// Elements per at::parallel_for task: enough that a thread's start-up is small beside its work.
constexpr int64_t kGrain = 16384;

// sigma(g) for 16 floats.
HLLM_INLINE vm::Floats sigmoid(vm::Floats g) { return 1.0f / (1.0f + vm::exp(-g)); }

// Rows [begin, end) of gu ([rows, 2F]: g then u) into h ([rows, F]).
HLLM_CPU_CLONES void forward_float(const float* gu, float* h, int64_t width, int64_t begin, int64_t end) {
  for (int64_t row = begin; row < end; ++row) {
    const float* g = gu + row * 2 * width;
    const float* u = g + width;
    float* out = h + row * width;
    int64_t i = 0;
    for (; i + vm::kFloats <= width; i += vm::kFloats) {
      const vm::Floats gi = vm::load<vm::Floats>(g + i);
      vm::store(out + i, gi * sigmoid(gi) * vm::load<vm::Floats>(u + i));
    }
    for (; i < width; ++i) out[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
  }
}

// [dg | du] into dgu ([rows, 2F]) from gu and dh ([rows, F]).
HLLM_CPU_CLONES void backward_float(const float* gu, const float* dh, float* dgu, int64_t width, int64_t begin,
                                    int64_t end) {
  for (int64_t row = begin; row < end; ++row) {
    const float* g = gu + row * 2 * width;
    const float* u = g + width;
    const float* d = dh + row * width;
    float* dg = dgu + row * 2 * width;
    float* du = dg + width;
    int64_t i = 0;
    for (; i + vm::kFloats <= width; i += vm::kFloats) {
      const vm::Floats gi = vm::load<vm::Floats>(g + i), di = vm::load<vm::Floats>(d + i);
      const vm::Floats s = sigmoid(gi);
      vm::store(dg + i, di * vm::load<vm::Floats>(u + i) * s * (1.0f + gi * (1.0f - s)));
      vm::store(du + i, di * gi * s);
    }
    for (; i < width; ++i) {
      const float s = 1.0f / (1.0f + std::exp(-g[i]));
      dg[i] = d[i] * u[i] * s * (1.0f + g[i] * (1.0f - s));
      du[i] = d[i] * g[i] * s;
    }
  }
}

void forward_double(const double* gu, double* h, int64_t width, int64_t begin, int64_t end) {
  for (int64_t row = begin; row < end; ++row) {
    const double* g = gu + row * 2 * width;
    for (int64_t i = 0; i < width; ++i) h[row * width + i] = g[i] / (1.0 + std::exp(-g[i])) * g[width + i];
  }
}

void backward_double(const double* gu, const double* dh, double* dgu, int64_t width, int64_t begin, int64_t end) {
  for (int64_t row = begin; row < end; ++row) {
    const double* g = gu + row * 2 * width;
    const double* d = dh + row * width;
    double* dg = dgu + row * 2 * width;
    for (int64_t i = 0; i < width; ++i) {
      const double s = 1.0 / (1.0 + std::exp(-g[i]));
      dg[i] = d[i] * g[width + i] * s * (1.0 + g[i] * (1.0 - s));
      dg[width + i] = d[i] * g[i] * s;
    }
  }
}

// Rows of F elements in a tensor of width 2F (0 for an empty one).
int64_t row_count(const at::Tensor& gu) { return gu.size(-1) == 0 ? 0 : gu.numel() / gu.size(-1); }

int64_t grain_rows(int64_t width) { return std::max<int64_t>(1, kGrain / std::max<int64_t>(1, width)); }

struct SwigluGateFunction : public torch::autograd::Function<SwigluGateFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* context, const at::Tensor& gate_up) {
    const auto type = compute_type(gate_up);
    const at::Tensor gu = gate_up.to(type).contiguous();
    const int64_t width = gu.size(-1) / 2, rows = row_count(gu);
    std::vector<int64_t> shape = gu.sizes().vec();
    shape.back() = width;
    at::Tensor h = at::empty(shape, gu.options());
    at::parallel_for(0, rows, grain_rows(width), [&](int64_t begin, int64_t end) {
      if (type == at::kFloat) {
        forward_float(gu.data_ptr<float>(), h.data_ptr<float>(), width, begin, end);
      } else {
        forward_double(gu.data_ptr<double>(), h.data_ptr<double>(), width, begin, end);
      }
    });
    context->save_for_backward({gate_up});  // in its own dtype: the node's whole memory
    return h.to(gate_up.scalar_type());
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* context,
                                                 torch::autograd::variable_list grads) {
    const at::Tensor gate_up = context->get_saved_variables()[0];
    const auto type = compute_type(gate_up);
    const at::Tensor gu = gate_up.to(type).contiguous(), dh = grads[0].to(type).contiguous();
    const int64_t width = gu.size(-1) / 2, rows = row_count(gu);
    at::Tensor dgu = at::empty_like(gu);
    at::parallel_for(0, rows, grain_rows(width), [&](int64_t begin, int64_t end) {
      if (type == at::kFloat) {
        backward_float(gu.data_ptr<float>(), dh.data_ptr<float>(), dgu.data_ptr<float>(), width, begin, end);
      } else {
        backward_double(gu.data_ptr<double>(), dh.data_ptr<double>(), dgu.data_ptr<double>(), width, begin, end);
      }
    });
    return {dgu.to(gate_up.scalar_type())};
  }
};

}  // namespace

at::Tensor fused_swiglu_gate(const at::Tensor& gate_up) {
  HLLM_CHECK(gate_up.device().is_cpu(), "fused_swiglu_gate: CPU tensors only, got ", gate_up.device());
  HLLM_CHECK(gate_up.dim() >= 1 && gate_up.size(-1) % 2 == 0, "fused_swiglu_gate: the last dimension of ",
             gate_up.sizes(), " must hold the gate and up products side by side");
  return SwigluGateFunction::apply(gate_up);
}

}  // namespace hllm::models
