// What the fused CPU ops (models/fused_*.cpp) share: the target_clones attribute for their loops, the
// [B, H, T, d] row view, 64-byte GCC vectors, which each clone compiles to one AVX-512 register, two AVX2
// ones or four SSE ones, and an exp that vectorizes (glibc's expf is a call per element, which would cost
// the fused softmax and SiLU as much as the rest of their work).
//
// Only for inclusion in the fused ops' .cpp files: the functions are always inlined, so that each clone
// gets its own instructions.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#define HLLM_INLINE __attribute__((always_inline)) inline

// Passing 64-byte vectors by value would change the calling convention between the clones; every function
// here is inlined into its caller, so none is called that way.
#pragma GCC diagnostic ignored "-Wpsabi"

// Loops over rows or elements are compiled three times (x86-64-v4 = AVX-512, v3 = AVX2 + FMA, the
// baseline); the loader picks one for the machine. The helpers they call are inlined into each copy.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define HLLM_CPU_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define HLLM_CPU_CLONES
#endif

namespace hllm::models::vector_math {

// A [B, H, T, d] tensor whose last dimension is contiguous, by its other strides.
template <typename A>
struct HeadRows {
  A* data;
  int64_t batch, head, token;
  A* row(int64_t b, int64_t h, int64_t t) const { return data + b * batch + h * head + t * token; }
};

typedef float Floats __attribute__((vector_size(64)));
typedef int32_t Ints __attribute__((vector_size(64)));
typedef double Doubles __attribute__((vector_size(64)));

constexpr int64_t kFloats = 16;

template <typename A>
struct VectorOf;
template <>
struct VectorOf<float> {
  using type = Floats;
};
template <>
struct VectorOf<double> {
  using type = Doubles;
};

template <typename V, typename A>
HLLM_INLINE V load(const A* p) {
  V v;
  std::memcpy(&v, p, sizeof(V));
  return v;
}

template <typename V, typename A>
HLLM_INLINE void store(A* p, const V& v) {
  std::memcpy(p, &v, sizeof(V));
}

// e^x for 16 floats, within a few ulp of expf: x = n ln2 + r with |r| <= ln2 / 2, e^r by its degree-6
// Taylor polynomial, 2^n put in the exponent bits. Below -87.33 the result is 0 (-inf gives 0); above 88.37
// +inf (expf overflows only at 88.72: softmax and sigmoid never need those values); NaN stays NaN.
HLLM_INLINE Floats exp(Floats x) {
  const Floats kLog2e = Floats{} + 1.44269504088896341f;
  const Floats kLn2High = Floats{} + 0.693359375f;  // ln 2 in two parts, so n ln2 subtracts exactly
  const Floats kLn2Low = Floats{} - 2.12194440e-4f;
  const Floats kRound = Floats{} + 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const Ints too_small = x < -87.3365f, too_large = x > 88.3762f;  // 2^n stays a normal float in between
  const Floats clamped = too_small ? Floats{} - 87.3365f : (too_large ? Floats{} + 88.3762f : x);
  const Floats n = (clamped * kLog2e + kRound) - kRound;
  const Floats r = (clamped - n * kLn2High) - n * kLn2Low;
  Floats p = Floats{} + 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const Ints exponent = (__builtin_convertvector(n, Ints) + 127) << 23;
  Floats two_to_n;
  std::memcpy(&two_to_n, &exponent, sizeof(two_to_n));  // the bits as a float: 2^n
  Floats result = p * two_to_n;
  result = too_small ? Floats{} : result;
  result = too_large ? Floats{} + HUGE_VALF : result;
  return x != x ? x : result;
}

// x[i] = e^(x[i] - shift) over n floats.
HLLM_INLINE void exp_shifted(float* x, int64_t n, float shift) {
  int64_t i = 0;
  for (; i + kFloats <= n; i += kFloats) store(x + i, exp(load<Floats>(x + i) - shift));
  for (; i < n; ++i) x[i] = std::exp(x[i] - shift);
}

HLLM_INLINE void exp_shifted(double* x, int64_t n, double shift) {
  for (int64_t i = 0; i < n; ++i) x[i] = std::exp(x[i] - shift);
}

}  // namespace hllm::models::vector_math
