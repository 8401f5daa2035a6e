#include "models/fused_attention.h"

#include <torch/csrc/autograd/custom_function.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "common/error.h"
#include "models/compute_type.h"
#include "models/vector_math.h"

namespace hllm::models {
namespace {

template <typename A>
using Rows = vector_math::HeadRows<A>;

template <typename A>
Rows<A> rows_of(const at::Tensor& x) {
  return {x.data_ptr<A>(), x.stride(0), x.stride(1), x.stride(2)};
}

// A bool mask broadcast to [B, H, T, T] (stride 0 where broadcast); no data: causal.
struct Mask {
  const bool* data = nullptr;
  int64_t batch = 0, head = 0, query = 0, key = 0;
};

template <typename A>
struct Problem {
  Rows<A> q, k, v, o;
  A* lse;  // [B, H, T]: log-sum-exp of each query row's scores; -inf for a row that attends nothing
  Mask mask;
  int64_t heads, groups, tokens, width;  // H, H / Hkv, T, d
  A scale;
};

// y += a x over n elements; restrict on a function's parameters is what lets GCC vectorize without
// checking overlap at run time.
template <typename A>
HLLM_INLINE void axpy(A a, const A* __restrict x, A* __restrict y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

// A matrix read element by element: (m, k) at data[m * row + k * column], so a transposed operand is free.
template <typename A>
struct Strided {
  const A* data;
  int64_t row, column;
  const A& at(int64_t m, int64_t k) const { return data[m * row + k * column]; }
};

// One tile of C (+)= A B: Rows rows by one vector of columns, the sums held in registers over k.
template <typename A, int64_t Rows>
HLLM_INLINE void product_tile(Strided<A> a, const A* __restrict b, int64_t ldb, A* __restrict c, int64_t ldc,
                              int64_t depth, bool accumulate) {
  using V = typename vector_math::VectorOf<A>::type;
  V sum[Rows];
  for (int64_t r = 0; r < Rows; ++r) {
    if (accumulate) {
      __builtin_memcpy(&sum[r], c + r * ldc, sizeof(V));
    } else {
      sum[r] = V{};
    }
  }
  for (int64_t k = 0; k < depth; ++k) {
    V bk;
    __builtin_memcpy(&bk, b + k * ldb, sizeof(V));
    for (int64_t r = 0; r < Rows; ++r) sum[r] += a.at(r, k) * bk;
  }
  for (int64_t r = 0; r < Rows; ++r) __builtin_memcpy(c + r * ldc, &sum[r], sizeof(V));
}

// C[m, n] (+)= sum over k of A(m, k) B[k, n]: m < rows, n < columns, k < depth; B and C row-major with
// contiguous rows (leading dimensions ldb, ldc). Small products, as one (sequence, head) of attention has.
template <typename A>
HLLM_INLINE void product(int64_t rows, int64_t columns, int64_t depth, Strided<A> a, const A* b, int64_t ldb, A* c,
                         int64_t ldc, bool accumulate) {
  constexpr int64_t kColumns = 64 / sizeof(A);
  int64_t n = 0;
  for (; n + kColumns <= columns; n += kColumns) {
    int64_t m = 0;
    for (; m + 4 <= rows; m += 4) {
      product_tile<A, 4>({&a.at(m, 0), a.row, a.column}, b + n, ldb, c + m * ldc + n, ldc, depth, accumulate);
    }
    for (; m < rows; ++m) {
      product_tile<A, 1>({&a.at(m, 0), a.row, a.column}, b + n, ldb, c + m * ldc + n, ldc, depth, accumulate);
    }
  }
  if (n == columns) return;
  for (int64_t m = 0; m < rows; ++m) {  // the last columns, fewer than a register
    A* cm = c + m * ldc + n;
    if (!accumulate) {
      for (int64_t j = 0; j < columns - n; ++j) cm[j] = 0;
    }
    for (int64_t k = 0; k < depth; ++k) axpy(a.at(m, k), b + k * ldb + n, cm, columns - n);
  }
}

// The keys query i of (b, h) may attend lie in [0, limit); with a mask, some inside may still be masked.
HLLM_INLINE int64_t key_limit(const Mask& mask, int64_t b, int64_t h, int64_t i, int64_t tokens) {
  if (!mask.data) return i + 1;
  const bool* m = mask.data + b * mask.batch + h * mask.head + i * mask.query;
  for (int64_t j = tokens; j > 0; --j) {
    if (m[(j - 1) * mask.key]) return j;
  }
  return 0;
}

HLLM_INLINE const bool* mask_row(const Mask& mask, int64_t b, int64_t h, int64_t i) {
  return mask.data ? mask.data + b * mask.batch + h * mask.head + i * mask.query : nullptr;
}

// x of (b, kv head g) transposed into xt [d, T].
template <typename A>
HLLM_INLINE void transpose_rows(const Problem<A>& p, const Rows<A>& x, int64_t b, int64_t g, A* __restrict xt) {
  for (int64_t j = 0; j < p.tokens; ++j) {
    const A* __restrict xj = x.row(b, g, j);
    for (int64_t c = 0; c < p.width; ++c) xt[c * p.tokens + j] = xj[c];
  }
}

// Query rows are taken this many at a time: their scores are one [rows, keys] product.
constexpr int64_t kQueryBlock = 32;

// The keys a block of query rows [first, last) needs: up to the last one any of them may attend.
HLLM_INLINE int64_t block_keys(const Mask& mask, int64_t b, int64_t h, int64_t first, int64_t last, int64_t tokens) {
  if (!mask.data) return last;
  int64_t keys = 0;
  for (int64_t i = first; i < last; ++i) keys = std::max(keys, key_limit(mask, b, h, i, tokens));
  return keys;
}

// A row of raw products q k^T becomes its probabilities: scaled, masked, exp(s - lse), 0 beyond what the
// row may attend. With `find_lse` (the forward) lse is found here, the row's log-sum-exp; otherwise (the
// backward) it is the forward's. A row that attends nothing is all zeros with lse -inf.
template <typename A>
HLLM_INLINE void probabilities_row(const Problem<A>& p, A* __restrict s, int64_t keys, int64_t b, int64_t h, int64_t i,
                                   A& lse, bool find_lse) {
  constexpr A kNone = -std::numeric_limits<A>::infinity();
  const int64_t limit = std::min(keys, key_limit(p.mask, b, h, i, p.tokens));
  const bool* m = mask_row(p.mask, b, h, i);
  for (int64_t j = 0; j < limit; ++j) s[j] = m && !m[j * p.mask.key] ? kNone : s[j] * p.scale;
  for (int64_t j = limit; j < keys; ++j) s[j] = kNone;
  A best = kNone;
  if (find_lse) {
    for (int64_t j = 0; j < limit; ++j) best = std::max(best, s[j]);
    lse = best;
  }
  if (lse == kNone) {
    for (int64_t j = 0; j < keys; ++j) s[j] = 0;
    return;
  }
  vector_math::exp_shifted(s, keys, lse);  // exp(-inf) = 0 where masked
  if (!find_lse) return;
  A sum = 0;
  for (int64_t j = 0; j < limit; ++j) sum += s[j];
  const A inverse = A(1) / sum;
  for (int64_t j = 0; j < limit; ++j) s[j] *= inverse;
  lse = best + std::log(sum);
}

// Forward of tasks [begin, end), task = b * Hkv + g: the group of query heads that reads kv head g.
template <typename A>
HLLM_INLINE void forward_tasks(const Problem<A>& p, int64_t begin, int64_t end) {
  const int64_t T = p.tokens, d = p.width, kv_heads = p.heads / p.groups;
  std::vector<A> kt(static_cast<size_t>(T * d)), scores(static_cast<size_t>(kQueryBlock * T));
  for (int64_t task = begin; task < end; ++task) {
    const int64_t b = task / kv_heads, g = task % kv_heads;
    transpose_rows(p, p.k, b, g, kt.data());
    for (int64_t h = g * p.groups; h < (g + 1) * p.groups; ++h) {
      for (int64_t first = 0; first < T; first += kQueryBlock) {
        const int64_t last = std::min(T, first + kQueryBlock), rows = last - first;
        const int64_t keys = block_keys(p.mask, b, h, first, last, T);
        A* lse = p.lse + (b * p.heads + h) * T + first;
        A* out = p.o.row(b, h, first);
        if (keys == 0) {  // no row of the block attends anything: zeros
          for (int64_t r = 0; r < rows; ++r) {
            lse[r] = -std::numeric_limits<A>::infinity();
            for (int64_t c = 0; c < d; ++c) out[r * p.o.token + c] = 0;
          }
          continue;
        }
        const Strided<A> q{p.q.row(b, h, first), p.q.token, 1};
        product(rows, keys, d, q, kt.data(), T, scores.data(), keys, /*accumulate=*/false);
        for (int64_t r = 0; r < rows; ++r) {
          lse[r] = -std::numeric_limits<A>::infinity();
          probabilities_row(p, scores.data() + r * keys, keys, b, h, first + r, lse[r], /*find_lse=*/true);
        }
        const Strided<A> probabilities{scores.data(), keys, 1};
        product(rows, d, keys, probabilities, p.v.row(b, g, 0), p.v.token, out, p.o.token, /*accumulate=*/false);
      }
    }
  }
}

template <typename A>
struct Gradients {
  Rows<A> dout, dq, dk, dv;
};

// Backward of tasks [begin, end): dq for the group's query heads, dk and dv for its kv head (only this task
// writes them, so they accumulate in place).
template <typename A>
HLLM_INLINE void backward_tasks(const Problem<A>& p, const Gradients<A>& grad, int64_t begin, int64_t end) {
  const int64_t T = p.tokens, d = p.width, kv_heads = p.heads / p.groups;
  std::vector<A> kt(static_cast<size_t>(T * d)), vt(static_cast<size_t>(T * d));
  std::vector<A> probabilities(static_cast<size_t>(kQueryBlock * T)), dscores(probabilities.size());
  for (int64_t task = begin; task < end; ++task) {
    const int64_t b = task / kv_heads, g = task % kv_heads;
    transpose_rows(p, p.k, b, g, kt.data());
    transpose_rows(p, p.v, b, g, vt.data());
    for (int64_t j = 0; j < T; ++j) {
      for (int64_t c = 0; c < d; ++c) grad.dk.row(b, g, j)[c] = grad.dv.row(b, g, j)[c] = 0;
    }
    for (int64_t h = g * p.groups; h < (g + 1) * p.groups; ++h) {
      for (int64_t first = 0; first < T; first += kQueryBlock) {
        const int64_t last = std::min(T, first + kQueryBlock), rows = last - first;
        const int64_t keys = block_keys(p.mask, b, h, first, last, T);
        A* dq = grad.dq.row(b, h, first);
        if (keys == 0) {
          for (int64_t r = 0; r < rows; ++r) {
            for (int64_t c = 0; c < d; ++c) dq[r * grad.dq.token + c] = 0;
          }
          continue;
        }
        A* P = probabilities.data();
        A* dS = dscores.data();
        const Strided<A> q{p.q.row(b, h, first), p.q.token, 1};
        const Strided<A> dout{grad.dout.row(b, h, first), grad.dout.token, 1};
        product(rows, keys, d, q, kt.data(), T, P, keys, /*accumulate=*/false);
        product(rows, keys, d, dout, vt.data(), T, dS, keys, /*accumulate=*/false);  // dP = do v^T
        for (int64_t r = 0; r < rows; ++r) {
          A lse = p.lse[(b * p.heads + h) * T + first + r];
          probabilities_row(p, P + r * keys, keys, b, h, first + r, lse, /*find_lse=*/false);
          const A* o = p.o.row(b, h, first + r);
          const A* dor = grad.dout.row(b, h, first + r);
          A row_dot = 0;  // sum(do * o): the softmax backward's correction
          for (int64_t c = 0; c < d; ++c) row_dot += dor[c] * o[c];
          for (int64_t j = 0; j < keys; ++j) dS[r * keys + j] = P[r * keys + j] * (dS[r * keys + j] - row_dot) * p.scale;
        }
        product(rows, d, keys, Strided<A>{dS, keys, 1}, p.k.row(b, g, 0), p.k.token, dq, grad.dq.token, false);
        product(keys, d, rows, Strided<A>{dS, 1, keys}, q.data, p.q.token, grad.dk.row(b, g, 0), grad.dk.token, true);
        product(keys, d, rows, Strided<A>{P, 1, keys}, dout.data, grad.dout.token, grad.dv.row(b, g, 0), grad.dv.token,
                true);
      }
    }
  }
}

HLLM_CPU_CLONES void forward_float(const Problem<float>& p, int64_t begin, int64_t end) { forward_tasks(p, begin, end); }
HLLM_CPU_CLONES void forward_double(const Problem<double>& p, int64_t begin, int64_t end) { forward_tasks(p, begin, end); }
HLLM_CPU_CLONES void backward_float(const Problem<float>& p, const Gradients<float>& g, int64_t begin, int64_t end) {
  backward_tasks(p, g, begin, end);
}
HLLM_CPU_CLONES void backward_double(const Problem<double>& p, const Gradients<double>& g, int64_t begin, int64_t end) {
  backward_tasks(p, g, begin, end);
}
void run_forward(const Problem<float>& p, int64_t begin, int64_t end) { forward_float(p, begin, end); }
void run_forward(const Problem<double>& p, int64_t begin, int64_t end) { forward_double(p, begin, end); }
void run_backward(const Problem<float>& p, const Gradients<float>& g, int64_t begin, int64_t end) {
  backward_float(p, g, begin, end);
}
void run_backward(const Problem<double>& p, const Gradients<double>& g, int64_t begin, int64_t end) {
  backward_double(p, g, begin, end);
}

// [B, T, heads, d] storage seen as [B, heads, T, d].
at::Tensor token_major(int64_t B, int64_t heads, int64_t T, int64_t d, at::ScalarType type) {
  return at::empty({B, T, heads, d}, at::TensorOptions().dtype(type)).transpose(1, 2);
}

template <typename A>
Problem<A> problem(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& o,
                   const at::Tensor& lse, const at::Tensor& mask) {
  Problem<A> p{rows_of<A>(q), rows_of<A>(k), rows_of<A>(v), rows_of<A>(o), lse.data_ptr<A>(), Mask{},
               q.size(1), q.size(1) / k.size(1), q.size(2), q.size(3),
               static_cast<A>(1.0 / std::sqrt(static_cast<double>(q.size(3))))};
  if (mask.numel() > 0) p.mask = {mask.data_ptr<bool>(), mask.stride(0), mask.stride(1), mask.stride(2), mask.stride(3)};
  return p;
}

struct AttentionFunction : public torch::autograd::Function<AttentionFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* context, const at::Tensor& q_input,
                            const at::Tensor& k_input, const at::Tensor& v_input, const at::Tensor& mask_input) {
    const auto type = compute_type(q_input);
    const at::Tensor q = rows_tensor(q_input, type), k = rows_tensor(k_input, type), v = rows_tensor(v_input, type);
    const int64_t B = q.size(0), H = q.size(1), T = q.size(2), d = q.size(3);
    // An empty mask stands for causal (autograd functions take defined tensors only).
    const at::Tensor mask = mask_input.numel() > 0 ? mask_input.expand({B, H, T, T}) : mask_input;
    const at::Tensor o = token_major(B, H, T, d, type);
    const at::Tensor lse = at::empty({B, H, T}, at::TensorOptions().dtype(type));
    const int64_t tasks = B * k.size(1);
    AT_DISPATCH_FLOATING_TYPES(type, "fused_attention", [&] {
      const auto p = problem<scalar_t>(q, k, v, o, lse, mask);
      at::parallel_for(0, tasks, 1, [&](int64_t begin, int64_t end) { run_forward(p, begin, end); });
    });
    context->save_for_backward({q, k, v, o, lse, mask});
    context->saved_data["q_type"] = static_cast<int64_t>(q_input.scalar_type());
    context->saved_data["k_type"] = static_cast<int64_t>(k_input.scalar_type());
    context->saved_data["v_type"] = static_cast<int64_t>(v_input.scalar_type());
    return o.to(q_input.scalar_type());
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* context,
                                                 torch::autograd::variable_list grads) {
    const auto saved = context->get_saved_variables();
    const at::Tensor &q = saved[0], &k = saved[1], &v = saved[2], &o = saved[3], &lse = saved[4], &mask = saved[5];
    const auto type = q.scalar_type();
    const int64_t B = q.size(0), H = q.size(1), T = q.size(2), d = q.size(3), Hkv = k.size(1);
    const at::Tensor dout = rows_tensor(grads[0], type);
    const at::Tensor dq = token_major(B, H, T, d, type);
    const at::Tensor dk = token_major(B, Hkv, T, d, type), dv = token_major(B, Hkv, T, d, type);
    AT_DISPATCH_FLOATING_TYPES(type, "fused_attention_backward", [&] {
      const auto p = problem<scalar_t>(q, k, v, o, lse, mask);
      const Gradients<scalar_t> g{rows_of<scalar_t>(dout), rows_of<scalar_t>(dq), rows_of<scalar_t>(dk),
                                  rows_of<scalar_t>(dv)};
      at::parallel_for(0, B * Hkv, 1, [&](int64_t begin, int64_t end) { run_backward(p, g, begin, end); });
    });
    const auto type_of = [&](const char* key) { return static_cast<at::ScalarType>(context->saved_data[key].toInt()); };
    return {dq.to(type_of("q_type")), dk.to(type_of("k_type")), dv.to(type_of("v_type")), at::Tensor()};
  }
};

}  // namespace

at::Tensor fused_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask) {
  HLLM_CHECK(q.device().is_cpu() && k.device().is_cpu() && v.device().is_cpu(), "fused_attention: CPU tensors only");
  HLLM_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4, "fused_attention: q, k, v must be [B, heads, T, d], got ",
             q.sizes(), ", ", k.sizes(), ", ", v.sizes());
  HLLM_CHECK(k.sizes() == v.sizes() && k.size(0) == q.size(0) && k.size(2) == q.size(2) && k.size(3) == q.size(3),
             "fused_attention: k and v ", k.sizes(), " do not match q ", q.sizes());
  HLLM_CHECK(k.size(1) > 0 && q.size(1) % k.size(1) == 0, "fused_attention: ", q.size(1),
             " query heads are not a multiple of ", k.size(1), " kv heads");
  if (mask.defined()) {
    HLLM_CHECK(mask.scalar_type() == at::kBool && mask.dim() == 4, "fused_attention: the mask must be bool [B, H, T, T]");
  }
  return AttentionFunction::apply(q, k, v, mask.defined() ? mask : at::empty({0}, at::TensorOptions().dtype(at::kBool)));
}

}  // namespace hllm::models
