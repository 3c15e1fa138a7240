// parity's own exp and tanh: the one transcendental implementation of the CPU backend (docs/design.md,
// canonical order rule 6).
//
// Why not libm: glibc's expf/tanhf are scalar calls (a third of a `small` step's non-GEMM time went to
// them) and their bits are glibc's business. These are written only with correctly rounded IEEE operations
// (+, -, *, /, fma, exact scaling by powers of two), so the scalar form and the AVX-512 form below give the
// same bits for every input, and so would any other backend that runs the same sequence.
//
// exp: Cody–Waite reduction x = n·ln2 + r, |r| ≤ ln2/2, then Cephes' degree-5 minimax polynomial for
//      (e^r − 1 − r)/r², then scaling by 2^n in two exact steps (so denormal results are right too).
//      Measured against fp64 (20M points): ≤ 1.01 ulp over [−103, 88]; tanh ≤ 1.3 ulp over [−12, 12].
// tanh: |x| < 0.625: Cephes' odd polynomial; otherwise 1 − 2/(e^{2|x|} + 1) with the sign restored.
//
// The scalar forms are KOKKOS_INLINE_FUNCTION: device kernels (the CUDA build) run the same sequence, so the
// transcendentals give the same bits on the GPU as on the CPU.
#pragma once
#include <Kokkos_Macros.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace parity::vm {

namespace detail {
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f;      // ln 2 split: kLn2Hi has 9 significant bits, so n·kLn2Hi is exact
constexpr float kLn2Lo = -2.12194440e-4f;
constexpr float kRound = 12582912.0f;       // 1.5·2^23: (v + kRound) − kRound rounds v to the nearest integer
constexpr float kExpHi = 88.72283935546875f;  // above: +inf
constexpr float kExpLo = -103.972084045410f;  // below: +0 (e^x < half the smallest denormal)
constexpr float kE0 = 1.9875691500e-4f, kE1 = 1.3981999507e-3f, kE2 = 8.3334519073e-3f, kE3 = 4.1665795894e-2f,
                kE4 = 1.6666665459e-1f, kE5 = 5.0000001201e-1f;
constexpr float kTanhSmall = 0.625f;
constexpr float kT0 = -5.70498872745e-3f, kT1 = 2.06390887954e-2f, kT2 = -5.37397155531e-2f,
                kT3 = 1.33314422036e-1f, kT4 = -3.33332819422e-1f;

KOKKOS_INLINE_FUNCTION float pow2i(int32_t e) {  // 2^e for e in [-126, 127]
  const uint32_t bits = static_cast<uint32_t>(e + 127) << 23;
#if defined(__CUDA_ARCH__)
  return __uint_as_float(bits);
#else
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
#endif
}
}  // namespace detail

KOKKOS_INLINE_FUNCTION float exp(float x) {
  using namespace detail;
  if (x != x) return x + x;  // NaN
  if (x > kExpHi) return INFINITY;
  if (x < kExpLo) return 0.0f;
  const float n = (x * kLog2e + kRound) - kRound;
  float r = fmaf(n, -kLn2Hi, x);
  r = fmaf(n, -kLn2Lo, r);
  float p = kE0;
  p = fmaf(p, r, kE1);
  p = fmaf(p, r, kE2);
  p = fmaf(p, r, kE3);
  p = fmaf(p, r, kE4);
  p = fmaf(p, r, kE5);
  const float y = fmaf(p, r * r, r) + 1.0f;
  const int32_t ni = static_cast<int32_t>(n);  // n in [-150, 128]
  const int32_t n1 = ni >> 1, n2 = ni - n1;  // both in [-75, 64]: 2^n1, 2^n2 are normal
  return (y * pow2i(n1)) * pow2i(n2);
}

KOKKOS_INLINE_FUNCTION float tanh(float x) {
  using namespace detail;
  const float a = fabsf(x);
  if (a < kTanhSmall) {
    const float z = x * x;
    float p = kT0;
    p = fmaf(p, z, kT1);
    p = fmaf(p, z, kT2);
    p = fmaf(p, z, kT3);
    p = fmaf(p, z, kT4);
    return x == 0.0f ? x : fmaf(p * z, x, x);  // keeps the sign of ±0
  }
  const float t = 1.0f - 2.0f / (vm::exp(a + a) + 1.0f);  // NaN stays NaN
  return copysignf(t, x);
}

#if defined(__AVX512F__)
// The same sequence, 16 lanes at a time.
inline __m512 exp(__m512 x) {
  using namespace detail;
  const __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
  const __mmask16 hi = _mm512_cmp_ps_mask(x, _mm512_set1_ps(kExpHi), _CMP_GT_OQ);
  const __mmask16 lo = _mm512_cmp_ps_mask(x, _mm512_set1_ps(kExpLo), _CMP_LT_OQ);
  const __m512 xc = _mm512_mask_blend_ps(nan | hi | lo, x, _mm512_setzero_ps());
  const __m512 rnd = _mm512_set1_ps(kRound);
  const __m512 n = _mm512_sub_ps(_mm512_add_ps(_mm512_mul_ps(xc, _mm512_set1_ps(kLog2e)), rnd), rnd);
  __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(-kLn2Hi), xc);
  r = _mm512_fmadd_ps(n, _mm512_set1_ps(-kLn2Lo), r);
  __m512 p = _mm512_set1_ps(kE0);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kE1));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kE2));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kE3));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kE4));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kE5));
  const __m512 y = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
  const __m512i ni = _mm512_cvttps_epi32(n);  // n is integral: truncation is exact
  const __m512i n1 = _mm512_srai_epi32(ni, 1), n2 = _mm512_sub_epi32(ni, n1);
  const __m512i bias = _mm512_set1_epi32(127);
  const __m512 s1 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n1, bias), 23));
  const __m512 s2 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n2, bias), 23));
  __m512 out = _mm512_mul_ps(_mm512_mul_ps(y, s1), s2);
  out = _mm512_mask_blend_ps(hi, out, _mm512_set1_ps(INFINITY));
  out = _mm512_mask_blend_ps(lo, out, _mm512_setzero_ps());
  return _mm512_mask_blend_ps(nan, out, _mm512_add_ps(x, x));
}

inline __m512 tanh(__m512 x) {
  using namespace detail;
  const __m512 sign = _mm512_set1_ps(-0.0f);
  const __m512 a = _mm512_andnot_ps(sign, x);
  const __m512 z = _mm512_mul_ps(x, x);
  __m512 p = _mm512_set1_ps(kT0);
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(kT1));
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(kT2));
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(kT3));
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(kT4));
  __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(p, z), x, x);
  small = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_EQ_OQ), small, x);
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 e = vm::exp(_mm512_add_ps(a, a));
  const __m512 big = _mm512_sub_ps(one, _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, one)));
  const __m512 big_signed = _mm512_or_ps(big, _mm512_and_ps(sign, x));  // big >= 0 (or NaN): copysign
  const __mmask16 is_small = _mm512_cmp_ps_mask(a, _mm512_set1_ps(kTanhSmall), _CMP_LT_OQ);
  return _mm512_mask_blend_ps(is_small, big_signed, small);
}
#endif

// y[i] = exp(x[i]) for i < n (y may alias x).
inline void exp_array(float* y, const float* x, long n) {
  long i = 0;
#if defined(__AVX512F__)
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, vm::exp(_mm512_loadu_ps(x + i)));
#endif
  for (; i < n; ++i) y[i] = vm::exp(x[i]);
}

// y[i] = exp(x[i] - shift), and returns nothing else: the softmax numerator (y may alias x).
inline void exp_shifted(float* y, const float* x, float shift, long n) {
  long i = 0;
#if defined(__AVX512F__)
  const __m512 s = _mm512_set1_ps(shift);
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, vm::exp(_mm512_sub_ps(_mm512_loadu_ps(x + i), s)));
#endif
  for (; i < n; ++i) y[i] = vm::exp(x[i] - shift);
}

inline void tanh_array(float* y, const float* x, long n) {
  long i = 0;
#if defined(__AVX512F__)
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, vm::tanh(_mm512_loadu_ps(x + i)));
#endif
  for (; i < n; ++i) y[i] = vm::tanh(x[i]);
}

}  // namespace parity::vm
