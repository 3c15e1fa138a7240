// Compute precisions: names, unit roundoffs and the in-place rounding of float buffers to bf16 or fp16.
//
// round_to runs on every activation, so it has an AVX-512 path (and an AVX2 + F16C one for older x86); the
// portable path is the array helpers of kernels/bf16.hpp and kernels/fp16.hpp, and all give the same bits for
// every input (suites/unit/test_half.cpp checks random arrays with specials, and, opt-in, all 2^32 floats).
//   bf16: integer RNE on the bits (add 0x7FFF + lsb, mask; NaNs get the quiet bit). Not VCVTNEPS2BF16
//         (AVX512_BF16): that instruction flushes fp32 subnormal inputs and outputs to zero, which is not
//         what IEEE 754 says (0x007FFFFF must round to 2^-126, not 0).
//   fp16: VCVTPS2PH with an immediate round-to-nearest-even (IEEE RNE, subnormals and overflow included,
//         NaNs quietened with the top payload bits kept, the MXCSR rounding mode not consulted), then the exact
//         VCVTPH2PS back.
// Elements are independent, so the work is split into chunks over the host execution space; the result does
// not depend on the split.
#include "kernels/precision.hpp"

#include <algorithm>
#include <cstdint>

#include "kernels/bf16.hpp"
#include "kernels/device.hpp"
#include "kernels/fp16.hpp"
#include "kernels/parallel.hpp"
#include "kernels/error.hpp"

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__F16C__))
#include <immintrin.h>
#endif

namespace parity {

Precision parse_precision(const std::string& s) {
  if (s == "fp32") return Precision::fp32;
  if (s == "bf16") return Precision::bf16;
  if (s == "fp16") return Precision::fp16;
  throw Error("unknown precision '" + s + "' (known: fp32, bf16, fp16)");
}

const char* to_string(Precision p) {
  switch (p) {
    case Precision::fp32: return "fp32";
    case Precision::bf16: return "bf16";
    case Precision::fp16: return "fp16";
  }
  return "?";
}

double unit_roundoff(Precision p) {
  switch (p) {
    case Precision::fp32: return 0x1p-24;
    case Precision::bf16: return 0x1p-8;
    case Precision::fp16: return 0x1p-11;
  }
  return 0.0;
}

namespace {

constexpr long kChunk = 1L << 15;  // floats per parallel unit (128 KiB)

#if defined(__AVX512F__)

// One load, six operations per 16 floats: u + 0x7FFF, or u + 0x8000 where the lowest kept bit is set; NaN
// lanes get u | quiet bit instead; then the low half is cleared.
inline __m512i bf16_round_512(__m512i u) {
  const __mmask16 odd = _mm512_test_epi32_mask(u, _mm512_set1_epi32(0x00010000));
  const __m512i r =
      _mm512_mask_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7FFF)), odd, u, _mm512_set1_epi32(0x8000));
  const __m512 f = _mm512_castsi512_ps(u);
  const __mmask16 nan = _mm512_cmp_ps_mask(f, f, _CMP_UNORD_Q);
  return _mm512_and_si512(_mm512_mask_or_epi32(r, nan, u, _mm512_set1_epi32(0x00400000)),
                          _mm512_set1_epi32(static_cast<int>(0xFFFF0000u)));
}

inline __m512 fp16_round_512(__m512 x) {
  return _mm512_cvtph_ps(_mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

void round_bf16_block(float* x, long n) {
  long i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512i a = _mm512_loadu_si512(x + i);
    const __m512i b = _mm512_loadu_si512(x + i + 16);
    _mm512_storeu_si512(x + i, bf16_round_512(a));
    _mm512_storeu_si512(x + i + 16, bf16_round_512(b));
  }
  for (; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - i)) - 1u);
    const __m512i a = _mm512_maskz_loadu_epi32(m, x + i);
    _mm512_mask_storeu_epi32(x + i, m, bf16_round_512(a));
  }
}

void round_fp16_block(float* x, long n) {
  long i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512 a = _mm512_loadu_ps(x + i);
    const __m512 b = _mm512_loadu_ps(x + i + 16);
    _mm512_storeu_ps(x + i, fp16_round_512(a));
    _mm512_storeu_ps(x + i + 16, fp16_round_512(b));
  }
  for (; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - i)) - 1u);
    const __m512 a = _mm512_maskz_loadu_ps(m, x + i);
    _mm512_mask_storeu_ps(x + i, m, fp16_round_512(a));
  }
}

#elif defined(__AVX2__) && defined(__F16C__)

inline __m256i bf16_round_256(__m256i u) {
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
  const __m256i r = _mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7FFF)), lsb);
  const __m256 f = _mm256_castsi256_ps(u);
  const __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(f, f, _CMP_UNORD_Q));
  const __m256i quiet = _mm256_or_si256(u, _mm256_set1_epi32(0x00400000));
  return _mm256_and_si256(_mm256_blendv_epi8(r, quiet, nan), _mm256_set1_epi32(static_cast<int>(0xFFFF0000u)));
}

void round_bf16_block(float* x, long n) {
  long i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(x + i), bf16_round_256(a));
  }
  round_to_bf16_array(x + i, n - i);
}

void round_fp16_block(float* x, long n) {
  long i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(x + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT)));
  round_to_fp16_array(x + i, n - i);
}

#else

void round_bf16_block(float* x, long n) { round_to_bf16_array(x, n); }
void round_fp16_block(float* x, long n) { round_to_fp16_array(x, n); }

#endif

template <class Block>
void round_chunks(const char* label, float* x, long n, Block block) {
  if (n <= kChunk) {
    block(x, n);
    return;
  }
  parallel_units(label, (n + kChunk - 1) / kChunk, [=](long u) {
    const long lo = u * kChunk;
    block(x + lo, std::min(n, lo + kChunk) - lo);
  });
}

}  // namespace

void round_to(Precision p, float* x, long n) {
  if (n <= 0 || p == Precision::fp32) return;
  if (on_device()) {
    device_for("round_to", n, KOKKOS_LAMBDA(long i) { x[i] = dev::round(p, x[i]); });
    return;
  }
  switch (p) {
    case Precision::fp32: return;
    case Precision::bf16: round_chunks("round_to_bf16", x, n, round_bf16_block); return;
    case Precision::fp16: round_chunks("round_to_fp16", x, n, round_fp16_block); return;
  }
}

}  // namespace parity
