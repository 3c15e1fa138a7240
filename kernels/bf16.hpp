// The project's own bfloat16 for CPU backends (docs/numerics.md, "Precisions"; Debian's Kokkos has no bf16).
// 1 sign bit, 8 exponent bits (bias 127, as fp32), 7 stored mantissa bits: the top half of an fp32.
//
// float -> bf16 rounds to nearest, ties to even, on the bits alone (no floating-point arithmetic, so neither
// the rounding mode nor FTZ/DAZ can change the result):
//   - finite values, fp32 subnormals included, round RNE on the 16 dropped bits; a carry out of the largest
//     finite value gives inf, which is IEEE 754's overflow rule (x >= (2 - 2^-8) * 2^127 goes to inf);
//   - -0 stays -0, ±inf stays ±inf;
//   - a NaN stays a NaN with its sign and the top 7 bits of its payload, and gets the quiet bit, so that
//     dropping the low payload bits can never turn it into inf (0x7F800001 -> 0x7FC0). This is what
//     VCVTNEPS2BF16 does with NaNs; unlike that instruction, fp32 subnormals are not flushed to zero.
// bf16 -> float is exact (a shift).
//
// Everything here is header-only, inline, branch-light (selects, no data-dependent loops) and usable inside
// Kokkos kernels; the conversions on bit patterns are constexpr, and those on floats are too where the
// compiler has __builtin_bit_cast (GCC >= 11, Clang >= 9). The array helpers are the portable path of
// round_to (kernels/precision.cpp) and auto-vectorise.
#pragma once
#include <Kokkos_Macros.hpp>

#include <cstdint>
#include <cstring>

#if defined(__has_builtin)
#if __has_builtin(__builtin_bit_cast)
#define PARITY_HALF_HAS_BIT_CAST 1
#endif
#endif
#if defined(PARITY_HALF_HAS_BIT_CAST)
#define PARITY_HALF_CONSTEXPR constexpr
#else
#define PARITY_HALF_CONSTEXPR
#endif

namespace parity {

namespace half_detail {

KOKKOS_INLINE_FUNCTION PARITY_HALF_CONSTEXPR uint32_t bits_of(float f) {
#if defined(PARITY_HALF_HAS_BIT_CAST)
  return __builtin_bit_cast(uint32_t, f);
#else
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
#endif
}

KOKKOS_INLINE_FUNCTION PARITY_HALF_CONSTEXPR float float_of(uint32_t u) {
#if defined(PARITY_HALF_HAS_BIT_CAST)
  return __builtin_bit_cast(float, u);
#else
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
#endif
}

// True for the bit pattern of an fp32 NaN (either sign).
KOKKOS_INLINE_FUNCTION constexpr bool is_nan_bits32(uint32_t u) { return (u & 0x7FFFFFFFu) > 0x7F800000u; }

}  // namespace half_detail

// ---- conversions on bit patterns ----------------------------------------------------------------------------

// fp32 bits -> the fp32 bits of the nearest bf16 (RNE), i.e. the bf16 in the top half and zeros below.
KOKKOS_INLINE_FUNCTION constexpr uint32_t bf16_round_bits32(uint32_t u) {
  // Adding 0x7FFF plus the lowest kept bit carries into the kept half exactly when the dropped half is above
  // one half, or exactly one half and the kept part is odd. Wrap-around only happens for NaN patterns, which
  // take the other branch.
  const uint32_t rounded = u + 0x7FFFu + ((u >> 16) & 1u);
  const uint32_t nan = u | 0x00400000u;
  return (half_detail::is_nan_bits32(u) ? nan : rounded) & 0xFFFF0000u;
}

// fp32 bits -> bf16 bits (RNE).
KOKKOS_INLINE_FUNCTION constexpr uint16_t bf16_bits_from_bits32(uint32_t u) {
  return static_cast<uint16_t>(bf16_round_bits32(u) >> 16);
}

// bf16 bits -> fp32 bits (exact).
KOKKOS_INLINE_FUNCTION constexpr uint32_t bits32_from_bf16_bits(uint16_t h) { return uint32_t(h) << 16; }

// ---- conversions on values ----------------------------------------------------------------------------------

KOKKOS_INLINE_FUNCTION PARITY_HALF_CONSTEXPR uint16_t bf16_bits_from_float(float f) {
  return bf16_bits_from_bits32(half_detail::bits_of(f));
}

KOKKOS_INLINE_FUNCTION PARITY_HALF_CONSTEXPR float float_from_bf16_bits(uint16_t h) {
  return half_detail::float_of(bits32_from_bf16_bits(h));
}

// The value of f rounded to bf16, as a float (float -> bf16 -> float).
KOKKOS_INLINE_FUNCTION PARITY_HALF_CONSTEXPR float round_to_bf16(float f) {
  return half_detail::float_of(bf16_round_bits32(half_detail::bits_of(f)));
}

// ---- the type -----------------------------------------------------------------------------------------------

struct bf16 {
  uint16_t bits;

  // Trivial (uninitialised) like a float; bf16{} is +0.
  bf16() = default;
  // Rounds to nearest even.
  KOKKOS_INLINE_FUNCTION PARITY_HALF_CONSTEXPR explicit bf16(float f) : bits(bf16_bits_from_float(f)) {}
  // Exact.
  KOKKOS_INLINE_FUNCTION PARITY_HALF_CONSTEXPR explicit operator float() const { return float_from_bf16_bits(bits); }

  KOKKOS_INLINE_FUNCTION static constexpr bf16 from_bits(uint16_t b) {
    bf16 h{};
    h.bits = b;
    return h;
  }

  static constexpr uint16_t max_finite_bits = 0x7F7F;   // (2 - 2^-7) * 2^127 ~ 3.3895e38
  static constexpr uint16_t min_normal_bits = 0x0080;   // 2^-126
  static constexpr uint16_t min_subnormal_bits = 0x0001;  // 2^-133
  static constexpr uint16_t inf_bits = 0x7F80;
  static constexpr uint16_t quiet_nan_bits = 0x7FC0;
  static constexpr int digits = 8;  // significand bits, the implicit one included
};

KOKKOS_INLINE_FUNCTION PARITY_HALF_CONSTEXPR float to_float(bf16 h) { return float_from_bf16_bits(h.bits); }
KOKKOS_INLINE_FUNCTION PARITY_HALF_CONSTEXPR bf16 to_bf16(float f) { return bf16::from_bits(bf16_bits_from_float(f)); }
KOKKOS_INLINE_FUNCTION constexpr bool is_nan(bf16 h) { return (h.bits & 0x7FFFu) > 0x7F80u; }
KOKKOS_INLINE_FUNCTION constexpr bool is_inf(bf16 h) { return (h.bits & 0x7FFFu) == 0x7F80u; }
KOKKOS_INLINE_FUNCTION constexpr bool is_finite(bf16 h) { return (h.bits & 0x7F80u) != 0x7F80u; }
// Bitwise identity (not IEEE equality: NaN == NaN here when the bits agree, +0 != -0).
KOKKOS_INLINE_FUNCTION constexpr bool same_bits(bf16 a, bf16 b) { return a.bits == b.bits; }

static_assert(sizeof(bf16) == 2, "bf16 must be 2 bytes");

// ---- array helpers (host; the portable path of round_to) -----------------------------------------------------

// x[i] = x[i] rounded to bf16, in place.
inline void round_to_bf16_array(float* x, long n) {
  for (long i = 0; i < n; ++i) {
    uint32_t u;
    std::memcpy(&u, x + i, sizeof u);
    u = bf16_round_bits32(u);
    std::memcpy(x + i, &u, sizeof u);
  }
}

inline void convert_array(const float* in, bf16* out, long n) {
  for (long i = 0; i < n; ++i) {
    uint32_t u;
    std::memcpy(&u, in + i, sizeof u);
    out[i].bits = bf16_bits_from_bits32(u);
  }
}

inline void convert_array(const bf16* in, float* out, long n) {
  for (long i = 0; i < n; ++i) {
    const uint32_t u = bits32_from_bf16_bits(in[i].bits);
    std::memcpy(out + i, &u, sizeof u);
  }
}

}  // namespace parity
