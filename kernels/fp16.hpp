// The project's own IEEE 754 binary16 for CPU backends (docs/numerics.md, "Precisions"; Debian's Kokkos
// half_t is a float on the host). 1 sign bit, 5 exponent bits (bias 15), 10 stored mantissa bits; largest
// finite 65504, smallest normal 2^-14, smallest subnormal 2^-24.
//
// float -> fp16 rounds to nearest, ties to even, in integer arithmetic only (neither the rounding mode nor
// FTZ/DAZ can change the result), with the same bits as F16C's VCVTPS2PH in round-to-nearest mode:
//   - normal range: RNE on the 13 dropped bits; a carry out of 65504 gives inf, IEEE 754's overflow rule
//     (x >= 65520 goes to inf, 65519.996 goes to 65504);
//   - below 2^-14: rounded RNE to a multiple of 2^-24 (subnormals), 2^-25 (a tie) goes to 0 and anything above
//     it to 2^-24; the largest subnormal can round up to the smallest normal;
//   - -0 stays -0 (and negative values that underflow give -0), ±inf stays ±inf;
//   - a NaN stays a NaN with its sign and the top 10 bits of its payload, and gets the quiet bit
//     (0x7F800001 -> 0x7E00).
// fp16 -> float is exact.
//
// Header-only, inline, branch-light (selects only), usable inside Kokkos kernels; constexpr on bit patterns,
// and on floats where the compiler has __builtin_bit_cast. Shares its bit-cast helpers with bf16.hpp.
#pragma once
#include <Kokkos_Macros.hpp>

#include <cstdint>
#include <cstring>

#include "kernels/bf16.hpp"

namespace parity {

// ---- conversions on bit patterns ----------------------------------------------------------------------------

// fp32 bits -> fp16 bits (RNE), in the low half of a uint32_t (32-bit lanes throughout: loops vectorise).
KOKKOS_INLINE_FUNCTION constexpr uint32_t fp16_bits_from_bits32_wide(uint32_t u) {
  const uint32_t sign = (u & 0x80000000u) >> 16;
  const uint32_t a = u & 0x7FFFFFFFu;
  // |x| in [2^-14, 2^16): rebias the exponent (127 -> 15) and round the 13 dropped bits; a carry may ripple
  // into the exponent (the next binade, or 0x7C00 = inf above 65504). Garbage, never used, for other |x|.
  const uint32_t normal = (a - (112u << 23) + 0x0FFFu + ((a >> 13) & 1u)) >> 13;
  // |x| < 2^-14: |x| = m * 2^(e - 150) with the implicit bit in m (e >= 1), so |x| / 2^-24 = m >> (126 - e),
  // rounded RNE. Shifts of 25 and more give 0 for every m < 2^24 (fp32 subnormals: e = 0, shift 125 -> 0).
  const uint32_t e = a >> 23;
  const uint32_t m = (a & 0x007FFFFFu) | 0x00800000u;
  const uint32_t s = (e < 101u || e > 112u) ? 25u : 126u - e;  // 14..25; the value for e > 112 is unused
  const uint32_t subnormal = (m + (1u << (s - 1)) - 1u + ((m >> s) & 1u)) >> s;
  // |x| >= 2^16: inf, or a quiet NaN keeping the top payload bits.
  const uint32_t special = a > 0x7F800000u ? (0x7E00u | ((a >> 13) & 0x03FFu)) : 0x7C00u;
  const uint32_t mag = a >= 0x47800000u ? special : a < 0x38800000u ? subnormal : normal;
  return sign | mag;
}

// fp32 bits -> fp16 bits (RNE).
KOKKOS_INLINE_FUNCTION constexpr uint16_t fp16_bits_from_bits32(uint32_t u) {
  return static_cast<uint16_t>(fp16_bits_from_bits32_wide(u));
}

// fp16 bits (the low half of h) -> fp32 bits (exact). Integer-only, so that the compiler may evaluate every
// branch and select (the loops over arrays vectorise).
KOKKOS_INLINE_FUNCTION constexpr uint32_t bits32_from_fp16_bits_wide(uint32_t h) {
  const uint32_t sign = (h & 0x8000u) << 16;
  const uint32_t em = h & 0x7FFFu;
  const uint32_t normal = (em << 13) + (112u << 23);
  const uint32_t special = (em << 13) | 0x7F800000u;  // inf, or NaN with the payload in the top bits
  // Subnormal, em = mant in [1, 1023], value mant * 2^-24: shift mant left by k until its leading one is bit 9
  // (binary search, k = 1..9); then the value is 1.f * 2^(-15 - k).
  uint32_t v = em, k = 0;
  const uint32_t k8 = v < 0x004u ? 8u : 0u;
  v <<= k8;
  k += k8;
  const uint32_t k4 = v < 0x040u ? 4u : 0u;
  v <<= k4;
  k += k4;
  const uint32_t k2 = v < 0x100u ? 2u : 0u;
  v <<= k2;
  k += k2;
  const uint32_t k1 = v < 0x200u ? 1u : 0u;
  v <<= k1;
  k += k1;
  const uint32_t subnormal = em == 0u ? 0u : ((112u - k) << 23) | ((v & 0x1FFu) << 14);
  const uint32_t mag = em >= 0x7C00u ? special : em < 0x0400u ? subnormal : normal;
  return sign | mag;
}

// fp16 bits -> fp32 bits (exact).
KOKKOS_INLINE_FUNCTION constexpr uint32_t bits32_from_fp16_bits(uint16_t h) { return bits32_from_fp16_bits_wide(h); }

// fp32 bits -> the fp32 bits of the nearest fp16 (RNE).
KOKKOS_INLINE_FUNCTION constexpr uint32_t fp16_round_bits32(uint32_t u) {
  return bits32_from_fp16_bits_wide(fp16_bits_from_bits32_wide(u));
}

// ---- conversions on values ----------------------------------------------------------------------------------

KOKKOS_INLINE_FUNCTION PARITY_HALF_CONSTEXPR uint16_t fp16_bits_from_float(float f) {
  return fp16_bits_from_bits32(half_detail::bits_of(f));
}

KOKKOS_INLINE_FUNCTION PARITY_HALF_CONSTEXPR float float_from_fp16_bits(uint16_t h) {
  return half_detail::float_of(bits32_from_fp16_bits(h));
}

// The value of f rounded to fp16, as a float (float -> fp16 -> float).
KOKKOS_INLINE_FUNCTION PARITY_HALF_CONSTEXPR float round_to_fp16(float f) {
  return half_detail::float_of(fp16_round_bits32(half_detail::bits_of(f)));
}

// ---- the type -----------------------------------------------------------------------------------------------

struct fp16 {
  uint16_t bits;

  // Trivial (uninitialised) like a float; fp16{} is +0.
  fp16() = default;
  // Rounds to nearest even.
  KOKKOS_INLINE_FUNCTION PARITY_HALF_CONSTEXPR explicit fp16(float f) : bits(fp16_bits_from_float(f)) {}
  // Exact.
  KOKKOS_INLINE_FUNCTION PARITY_HALF_CONSTEXPR explicit operator float() const { return float_from_fp16_bits(bits); }

  KOKKOS_INLINE_FUNCTION static constexpr fp16 from_bits(uint16_t b) {
    fp16 h{};
    h.bits = b;
    return h;
  }

  static constexpr uint16_t max_finite_bits = 0x7BFF;     // 65504
  static constexpr uint16_t min_normal_bits = 0x0400;     // 2^-14
  static constexpr uint16_t min_subnormal_bits = 0x0001;  // 2^-24
  static constexpr uint16_t inf_bits = 0x7C00;
  static constexpr uint16_t quiet_nan_bits = 0x7E00;
  static constexpr int digits = 11;  // significand bits, the implicit one included
};

KOKKOS_INLINE_FUNCTION PARITY_HALF_CONSTEXPR float to_float(fp16 h) { return float_from_fp16_bits(h.bits); }
KOKKOS_INLINE_FUNCTION PARITY_HALF_CONSTEXPR fp16 to_fp16(float f) { return fp16::from_bits(fp16_bits_from_float(f)); }
KOKKOS_INLINE_FUNCTION constexpr bool is_nan(fp16 h) { return (h.bits & 0x7FFFu) > 0x7C00u; }
KOKKOS_INLINE_FUNCTION constexpr bool is_inf(fp16 h) { return (h.bits & 0x7FFFu) == 0x7C00u; }
KOKKOS_INLINE_FUNCTION constexpr bool is_finite(fp16 h) { return (h.bits & 0x7C00u) != 0x7C00u; }
// Bitwise identity (not IEEE equality: NaN == NaN here when the bits agree, +0 != -0).
KOKKOS_INLINE_FUNCTION constexpr bool same_bits(fp16 a, fp16 b) { return a.bits == b.bits; }

static_assert(sizeof(fp16) == 2, "fp16 must be 2 bytes");

// ---- array helpers (host; the portable path of round_to) -----------------------------------------------------

// x[i] = x[i] rounded to fp16, in place.
inline void round_to_fp16_array(float* x, long n) {
  for (long i = 0; i < n; ++i) {
    uint32_t u;
    std::memcpy(&u, x + i, sizeof u);
    u = fp16_round_bits32(u);
    std::memcpy(x + i, &u, sizeof u);
  }
}

inline void convert_array(const float* in, fp16* out, long n) {
  for (long i = 0; i < n; ++i) {
    uint32_t u;
    std::memcpy(&u, in + i, sizeof u);
    out[i].bits = fp16_bits_from_bits32(u);
  }
}

inline void convert_array(const fp16* in, float* out, long n) {
  for (long i = 0; i < n; ++i) {
    const uint32_t u = bits32_from_fp16_bits(in[i].bits);
    std::memcpy(out + i, &u, sizeof u);
  }
}

}  // namespace parity
