// The project's bf16 and fp16 (kernels/bf16.hpp, kernels/fp16.hpp) and round_to (kernels/precision.cpp):
// every 16-bit pattern round-trips; float -> 16 bits matches an independent, double-based round-to-nearest-
// even on whole ranges of floats and on 10^7 random ones; the IEEE 754 corner cases one by one (ties, overflow
// thresholds, largest finite, subnormals, signed zeros, infinities, NaN payloads); round_to's vector path
// gives the bits of the portable path; names and unit roundoffs.
//
// Opt-in (slow, ~45 s): all 2^32 floats through round_to against the portable path and the reference,
//   build/suites/parity_unit_tests --gtest_also_run_disabled_tests --gtest_filter='*Exhaustive*'
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/bf16.hpp"
#include "kernels/fp16.hpp"
#include "kernels/precision.hpp"
#include "kernels/error.hpp"

namespace parity {
namespace {

// ---- compile-time checks --------------------------------------------------------------------------------------

static_assert(std::is_trivially_copyable<bf16>::value && std::is_trivially_default_constructible<bf16>::value);
static_assert(std::is_trivially_copyable<fp16>::value && std::is_trivially_default_constructible<fp16>::value);
static_assert(std::is_standard_layout<bf16>::value && std::is_standard_layout<fp16>::value);
static_assert(bf16_bits_from_bits32(0x3F800000u) == 0x3F80 && fp16_bits_from_bits32(0x3F800000u) == 0x3C00);
static_assert(fp16_bits_from_bits32(0x477FF000u) == 0x7C00);  // 65520 -> inf, usable in constant expressions
static_assert(bits32_from_fp16_bits(0x0001) == 0x33800000u && bits32_from_fp16_bits(0x83FF) == 0xB87FC000u);
#if defined(PARITY_HALF_HAS_BIT_CAST)
static_assert(bf16_bits_from_float(-2.0f) == 0xC000 && fp16_bits_from_float(65504.0f) == 0x7BFF);
static_assert(float_from_fp16_bits(0x0001) == 0x1p-24f && round_to_bf16(1.00390625f) == 1.0f);
#endif

// ---- helpers --------------------------------------------------------------------------------------------------

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
std::string hex(uint32_t u, int width = 8) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%0*x", width, u);
  return buf;
}

// A binary floating-point storage format for the reference: p significand bits (implicit one included),
// exponent width w, so bias 2^(w-1) - 1, emin = 1 - bias, emax = bias.
struct Format {
  const char* name;
  int p, w;
  int bias() const { return (1 << (w - 1)) - 1; }
  int emin() const { return 1 - bias(); }
  int emax() const { return bias(); }
  uint32_t inf() const { return ((1u << w) - 1u) << (p - 1); }
  uint32_t sign() const { return 1u << (p - 1 + w); }
};
constexpr Format kBf16{"bf16", 8, 8};
constexpr Format kFp16{"fp16", 11, 5};

// Round to nearest integer, ties to even, without the floating-point environment: y >= 0 and y < 2^52.
double rne_integer(double y) {
  const double fl = std::floor(y);
  const double frac = y - fl;  // exact
  if (frac > 0.5) return fl + 1.0;
  if (frac < 0.5) return fl;
  return std::fmod(fl, 2.0) == 0.0 ? fl : fl + 1.0;
}

// Reference float -> 16-bit encoder, written from the definition of the format rather than bit tricks:
// scale |x| by the quantum of its binade (the subnormal quantum below 2^emin), round the integer RNE, check
// the rounded value against the overflow threshold 2^(emax+1), and encode the value field by field.
// NaNs: keep the sign and the top payload bits, set the quiet bit (the projects' documented choice).
uint32_t reference_encode(const Format& f, float x) {
  const uint32_t u = bits(x);
  const uint32_t sign = std::signbit(x) ? f.sign() : 0u;
  const int drop = 24 - f.p;  // fp32 significand bits that do not fit
  if (std::isnan(x)) return sign | f.inf() | (1u << (f.p - 2)) | ((u & 0x007FFFFFu) >> drop);
  if (std::isinf(x)) return sign | f.inf();
  const double a = std::fabs(static_cast<double>(x));
  if (a == 0.0) return sign;
  const int e = std::max(std::ilogb(a), f.emin());
  const double quantum = std::ldexp(1.0, e - (f.p - 1));
  const double r = rne_integer(a / quantum);  // a / quantum is exact: a power-of-two scaling
  const double v = r * quantum;
  if (v >= std::ldexp(1.0, f.emax() + 1)) return sign | f.inf();
  if (v < std::ldexp(1.0, f.emin())) return sign | static_cast<uint32_t>(r);  // subnormal: r * 2^(emin-p+1)
  const int ev = std::ilogb(v);
  const double mant = std::ldexp(v, (f.p - 1) - ev) - std::ldexp(1.0, f.p - 1);  // integer in [0, 2^(p-1))
  return sign | (static_cast<uint32_t>(ev + f.bias()) << (f.p - 1)) | static_cast<uint32_t>(mant);
}

// Reference decoder: the value of a 16-bit pattern from its fields, in double.
double reference_decode(const Format& f, uint32_t h) {
  const bool neg = (h & f.sign()) != 0;
  const uint32_t e = (h >> (f.p - 1)) & ((1u << f.w) - 1u);
  const uint32_t m = h & ((1u << (f.p - 1)) - 1u);
  double v;
  if (e == (1u << f.w) - 1u)
    v = m ? std::nan("") : HUGE_VAL;
  else if (e == 0)
    v = std::ldexp(static_cast<double>(m), f.emin() - (f.p - 1));
  else
    v = std::ldexp(static_cast<double>(m + (1u << (f.p - 1))), static_cast<int>(e) - f.bias() - (f.p - 1));
  return neg ? -v : v;
}

uint32_t encode(const Format& f, float x) {
  return &f == &kBf16 ? bf16_bits_from_float(x) : fp16_bits_from_float(x);
}
float decode(const Format& f, uint32_t h) {
  return &f == &kBf16 ? float_from_bf16_bits(static_cast<uint16_t>(h)) : float_from_fp16_bits(static_cast<uint16_t>(h));
}
float round_scalar(const Format& f, float x) { return &f == &kBf16 ? round_to_bf16(x) : round_to_fp16(x); }
Precision precision(const Format& f) { return &f == &kBf16 ? Precision::bf16 : Precision::fp16; }
void round_array_portable(const Format& f, float* x, long n) {
  if (&f == &kBf16)
    round_to_bf16_array(x, n);
  else
    round_to_fp16_array(x, n);
}

// Checks every float in `xs` for format f: scalar encoder against the reference encoder, scalar
// float -> 16 -> float against decode(reference), and round_to (vector path) against the scalar result.
// Returns the number of mismatches (and reports the first few).
long check_floats(const Format& f, const std::vector<float>& xs) {
  std::vector<float> rounded = xs;
  round_to(precision(f), rounded.data(), static_cast<long>(rounded.size()));
  long bad = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const float x = xs[i];
    const uint32_t want = reference_encode(f, x);
    const uint32_t got = encode(f, x);
    const uint32_t want32 = bits(decode(f, want));
    const uint32_t scalar32 = bits(round_scalar(f, x));
    const uint32_t vector32 = bits(rounded[i]);
    if (got != want || scalar32 != want32 || vector32 != want32) {
      if (++bad <= 5)
        ADD_FAILURE() << f.name << ": x = " << hex(bits(x)) << " (" << x << "): encode " << hex(got, 4)
                      << ", reference " << hex(want, 4) << "; round scalar " << hex(scalar32) << ", round_to "
                      << hex(vector32) << ", expected " << hex(want32);
    }
  }
  return bad;
}

std::vector<float> float_range(uint32_t lo, uint32_t hi) {  // bit patterns [lo, hi)
  std::vector<float> xs;
  xs.reserve(hi - lo);
  for (uint32_t u = lo; u != hi; ++u) xs.push_back(from_bits(u));
  return xs;
}

// ---- every 16-bit pattern -------------------------------------------------------------------------------------

void check_all_patterns(const Format& f) {
  long nans = 0, bad = 0;
  for (uint32_t h = 0; h < 65536; ++h) {
    const float x = decode(f, h);
    const double want = reference_decode(f, h);
    const bool is_nan = std::isnan(want);
    nans += is_nan;
    // 16 -> 32 is exact: the value from the fields (and the sign of zero, and NaN-ness and sign for NaNs).
    bool ok = is_nan ? (std::isnan(x) && std::signbit(x) == ((h & f.sign()) != 0))
                     : (static_cast<double>(x) == want && std::signbit(x) == std::signbit(want));
    // 32 -> 16 gives the same bits; a NaN keeps sign and payload and comes back quiet (a signalling NaN
    // gets the quiet bit, which is the only change).
    const uint32_t back = encode(f, x);
    const uint32_t expect = is_nan ? (h | (1u << (f.p - 2))) : h;
    ok = ok && back == expect;
    // And the float is already representable: rounding it changes nothing.
    ok = ok && bits(round_scalar(f, x)) == bits(decode(f, expect));
    if (!ok && ++bad <= 5)
      ADD_FAILURE() << f.name << " pattern " << hex(h, 4) << ": float " << hex(bits(x)) << ", back " << hex(back, 4);
  }
  EXPECT_EQ(bad, 0);
  EXPECT_EQ(nans, 2 * ((1 << (f.p - 1)) - 1));  // both signs, every non-zero mantissa with exponent all ones
}

TEST(Half, Bf16AllPatternsRoundTrip) { check_all_patterns(kBf16); }
TEST(Half, Fp16AllPatternsRoundTrip) { check_all_patterns(kFp16); }

TEST(Half, AllPatternsThroughRoundTo) {
  // The same 65,536 values through round_to (vector path): unchanged, except signalling NaNs made quiet.
  for (const Format* f : {&kBf16, &kFp16}) {
    std::vector<float> xs(65536), ys;
    for (uint32_t h = 0; h < 65536; ++h) xs[h] = decode(*f, h);
    ys = xs;
    round_to(precision(*f), ys.data(), 65536);
    for (uint32_t h = 0; h < 65536; ++h) {
      const bool nan = std::isnan(xs[h]);
      const uint32_t expect = nan ? bits(decode(*f, h | (1u << (f->p - 2)))) : bits(xs[h]);
      ASSERT_EQ(bits(ys[h]), expect) << f->name << " pattern " << hex(h, 4);
    }
  }
}

// ---- float -> 16 bits against the reference ----------------------------------------------------------------------

// Ranges of 2^19 consecutive fp32 patterns around every boundary of both formats, each with both signs.
TEST(Half, RangesMatchReference) {
  const uint32_t kHalf = 1u << 18;
  const uint32_t centres[] = {
      0x00000000u + kHalf,  // zero and the smallest fp32 subnormals
      0x00800000u,          // fp32 subnormal / normal boundary (bf16 subnormals round up into normals)
      0x33000000u,          // 2^-25: fp16 underflow to zero (tie at the halfway point)
      0x33800000u,          // 2^-24: the smallest fp16 subnormal
      0x38800000u,          // 2^-14: fp16 subnormal / normal boundary
      0x3F800000u,          // 1.0
      0x477FE000u,          // 65504, the largest fp16
      0x47800000u,          // 65536: past the fp16 overflow threshold 65520
      0x7F7F8000u,          // bf16 overflow threshold; the top end reaches +inf
      0x7F800000u + kHalf,  // infinity and NaNs
      0x7FC00000u,          // quiet NaNs
  };
  for (const Format* f : {&kBf16, &kFp16})
    for (uint32_t c : centres)
      for (uint32_t sign : {0u, 0x80000000u}) {
        const uint32_t lo = c - kHalf, hi = c + kHalf;
        SCOPED_TRACE(std::string(f->name) + " range " + hex(lo | sign) + ".." + hex(hi | sign));
        ASSERT_EQ(check_floats(*f, float_range(lo | sign, hi | sign)), 0);
      }
}

TEST(Half, RandomFloatsMatchReference) {
  // 10^7 uniformly random bit patterns (every exponent equally likely, NaNs and infinities included) and 10^6
  // floats drawn where each format is normal, subnormal or near overflow.
  std::mt19937 gen(20240611);
  std::vector<float> xs(10'000'000);
  for (float& x : xs) x = from_bits(static_cast<uint32_t>(gen()));
  std::uniform_int_distribution<uint32_t> fp16_span(0x32000000u, 0x47900000u);  // 2^-27 .. past 65536
  std::vector<float> ys(1'000'000);
  for (float& y : ys) y = from_bits(fp16_span(gen) | (gen() & 0x80000000u));
  for (const Format* f : {&kBf16, &kFp16}) {
    SCOPED_TRACE(f->name);
    EXPECT_EQ(check_floats(*f, xs), 0);
    EXPECT_EQ(check_floats(*f, ys), 0);
  }
}

// ---- the corner cases one by one --------------------------------------------------------------------------------

struct Case {
  float x;
  uint16_t want;
};

void check_cases(const Format& f, const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    EXPECT_EQ(encode(f, c.x), c.want) << f.name << ": " << hex(bits(c.x)) << " (" << c.x << ")";
    EXPECT_EQ(encode(f, c.x), reference_encode(f, c.x)) << f.name << ": reference disagrees at " << hex(bits(c.x));
    std::vector<float> one{c.x};
    round_to(precision(f), one.data(), 1);
    EXPECT_EQ(bits(one[0]), bits(decode(f, c.want))) << f.name << " round_to: " << hex(bits(c.x));
  }
}

TEST(Half, Bf16CornerCases) {
  const float next_below_inf_threshold = from_bits(0x7F7F7FFFu);
  check_cases(kBf16, {
      // ties to even and the values on either side
      {1.0f + 0x1p-8f, 0x3F80},              // halfway between 1 and 1 + 2^-7: even is 1
      {1.0f + 3 * 0x1p-8f, 0x3F82},          // halfway between 1 + 2^-7 (odd) and 1 + 2^-6: up
      {1.0f + 0x1p-8f + 0x1p-23f, 0x3F81},   // just above the tie: up
      {1.0f + 0x1p-8f - 0x1p-23f, 0x3F80},   // just below: down
      {-(1.0f + 3 * 0x1p-8f), 0xBF82},
      {from_bits(0x3F80FFFFu), 0x3F81},      // largest dropped part: up
      {from_bits(0x3FFFFFFFu), 0x4000},      // carry into the exponent: 2 - 2^-23 -> 2
      // largest finite and overflow: threshold (2 - 2^-8) * 2^127 = 0x7F7F8000, a tie whose even side is inf
      {from_bits(0x7F7F0000u), 0x7F7F},      // the largest bf16, ~3.3895e38
      {next_below_inf_threshold, 0x7F7F},    // the largest float that does not round to inf
      {from_bits(0x7F7F8000u), 0x7F80},      // the smallest float that rounds to inf
      {from_bits(0xFF7F8000u), 0xFF80},
      {from_bits(0x7F7FFFFFu), 0x7F80},      // FLT_MAX -> inf
      // subnormals: fp32 subnormals are bf16 subnormals with 16 bits dropped; 2^-133 is the smallest
      {0x1p-133f, 0x0001},
      {0x1p-134f, 0x0000},                   // halfway to 2^-133: ties to even (0)
      {from_bits(0x00008001u), 0x0001},      // just above halfway
      {from_bits(0x00018000u), 0x0002},      // 1.5 quanta: tie, even is 2
      {from_bits(0x00028000u), 0x0002},      // 2.5 quanta: tie, even is 2
      {from_bits(0x00000001u), 0x0000},      // the smallest fp32 subnormal underflows to +0
      {from_bits(0x80000001u), 0x8000},      // ... and to -0 when negative
      {from_bits(0x007FFFFFu), 0x0080},      // the largest fp32 subnormal rounds up to 2^-126 (not flushed)
      {0x1p-126f, 0x0080},
      // zeros and infinities
      {0.0f, 0x0000},
      {-0.0f, 0x8000},
      {INFINITY, 0x7F80},
      {-INFINITY, 0xFF80},
      // NaNs: quiet, sign and top payload bits kept; never inf
      {from_bits(0x7FC00000u), 0x7FC0},
      {from_bits(0xFFC00000u), 0xFFC0},
      {from_bits(0x7F800001u), 0x7FC0},      // signalling, payload only in the dropped bits: not inf
      {from_bits(0xFF800001u), 0xFFC0},
      {from_bits(0x7FA00000u), 0x7FE0},      // signalling with a high payload bit: kept, quiet bit set
      {from_bits(0x7FFFFFFFu), 0x7FFF},
      {from_bits(0x7FC1FFFFu), 0x7FC1},      // truncated, not rounded (no carry out of the payload)
  });
}

TEST(Half, Fp16CornerCases) {
  check_cases(kFp16, {
      // ties to even
      {1.0f + 0x1p-11f, 0x3C00},             // halfway between 1 and 1 + 2^-10: even is 1
      {1.0f + 3 * 0x1p-11f, 0x3C02},         // halfway, odd below: up
      {1.0f + 0x1p-11f + 0x1p-23f, 0x3C01},
      {2049.0f, 0x6800},                     // 2048 (even)
      {2051.0f, 0x6802},                     // 2052
      {-2051.0f, 0xE802},
      {from_bits(0x3FFFFFFFu), 0x4000},      // carry into the exponent
      // largest finite and overflow: threshold 65520 = 65504 + 16, a tie whose even side is inf
      {65504.0f, 0x7BFF},
      {std::nextafter(65520.0f, 0.0f), 0x7BFF},  // 65519.996: the largest float that does not round to inf
      {65520.0f, 0x7C00},                    // the smallest float that rounds to inf
      {-65520.0f, 0xFC00},
      {65536.0f, 0x7C00},
      {1e10f, 0x7C00},
      {from_bits(0x7F7FFFFFu), 0x7C00},
      // normal / subnormal boundary
      {0x1p-14f, 0x0400},
      {1023.5f * 0x1p-24f, 0x0400},          // tie between the largest subnormal (odd) and 2^-14: up
      {1022.5f * 0x1p-24f, 0x03FE},          // tie, even below
      {1023.0f * 0x1p-24f, 0x03FF},          // the largest subnormal
      {std::nextafter(0x1p-14f, 0.0f), 0x0400},
      // subnormals and underflow
      {0x1p-24f, 0x0001},                    // the smallest subnormal
      {0x1p-25f, 0x0000},                    // halfway to 2^-24: ties to even (0)
      {std::nextafter(0x1p-25f, 1.0f), 0x0001},  // just above halfway
      {std::nextafter(0x1p-25f, 0.0f), 0x0000},
      {3 * 0x1p-25f, 0x0002},                // 1.5 quanta: tie, even is 2
      {5 * 0x1p-25f, 0x0002},                // 2.5 quanta: tie, even is 2
      {7 * 0x1p-25f, 0x0004},                // 3.5 quanta: tie, even is 4
      {-0x1p-25f, 0x8000},                   // underflow keeps the sign: -0
      {-0x1p-24f, 0x8001},
      {0x1p-30f, 0x0000},
      {from_bits(0x00000001u), 0x0000},      // fp32 subnormals
      {from_bits(0x807FFFFFu), 0x8000},
      // zeros and infinities
      {0.0f, 0x0000},
      {-0.0f, 0x8000},
      {INFINITY, 0x7C00},
      {-INFINITY, 0xFC00},
      // NaNs: quiet, sign and top 10 payload bits kept
      {from_bits(0x7FC00000u), 0x7E00},
      {from_bits(0xFFC00000u), 0xFE00},
      {from_bits(0x7F800001u), 0x7E00},      // signalling, payload only in the dropped bits: not inf
      {from_bits(0xFF800001u), 0xFE00},
      {from_bits(0x7FA00000u), 0x7F00},
      {from_bits(0x7FFFFFFFu), 0x7FFF},
      {from_bits(0x7F802000u), 0x7E01},      // lowest kept payload bit
  });
}

TEST(Half, DecodeCornerCases) {
  EXPECT_EQ(float_from_fp16_bits(0x7BFF), 65504.0f);
  EXPECT_EQ(float_from_fp16_bits(0x0001), 0x1p-24f);
  EXPECT_EQ(float_from_fp16_bits(0x03FF), 1023.0f * 0x1p-24f);
  EXPECT_EQ(float_from_fp16_bits(0x0400), 0x1p-14f);
  EXPECT_EQ(bits(float_from_fp16_bits(0x8000)), 0x80000000u);
  EXPECT_EQ(bits(float_from_fp16_bits(0x7C00)), 0x7F800000u);
  EXPECT_EQ(bits(float_from_fp16_bits(0xFE01)), 0xFFC02000u);
  EXPECT_EQ(float_from_bf16_bits(0x7F7F), from_bits(0x7F7F0000u));
  EXPECT_EQ(float_from_bf16_bits(0x0001), 0x1p-133f);
  EXPECT_EQ(bits(float_from_bf16_bits(0x8000)), 0x80000000u);
  // The types.
  const bf16 b(1.5f);
  const fp16 h(-65520.0f);
  EXPECT_EQ(b.bits, 0x3FC0);
  EXPECT_EQ(static_cast<float>(b), 1.5f);
  EXPECT_EQ(to_float(to_bf16(3.0f)), 3.0f);
  EXPECT_TRUE(is_inf(h));
  EXPECT_TRUE(is_nan(fp16::from_bits(0x7C01)) && !is_nan(fp16::from_bits(0x7C00)) && is_finite(fp16::from_bits(0x7BFF)));
  EXPECT_TRUE(is_nan(bf16::from_bits(0xFF81)) && !is_finite(bf16::from_bits(0x7F80)));
  std::vector<float> in{1.0f, -0.0f, 65520.0f, 0x1p-25f, NAN}, back(in.size());
  std::vector<fp16> hs(in.size());
  convert_array(in.data(), hs.data(), static_cast<long>(in.size()));
  convert_array(hs.data(), back.data(), static_cast<long>(in.size()));
  EXPECT_EQ(hs[0].bits, 0x3C00);
  EXPECT_EQ(hs[1].bits, 0x8000);
  EXPECT_EQ(hs[2].bits, 0x7C00);
  EXPECT_EQ(hs[3].bits, 0x0000);
  EXPECT_TRUE(std::isnan(back[4]));
  std::vector<bf16> bs(in.size());
  convert_array(in.data(), bs.data(), static_cast<long>(in.size()));
  convert_array(bs.data(), back.data(), static_cast<long>(in.size()));
  EXPECT_EQ(bs[2].bits, 0x4780);
  EXPECT_EQ(back[0], 1.0f);
}

// ---- round_to: vector path == portable path -----------------------------------------------------------------------

// Random values with the specials and boundary cases mixed in: exact ties for both formats, NaNs with
// payloads, infinities, zeros, fp32 and fp16 subnormals, values around both overflow thresholds.
std::vector<float> random_with_specials(long n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(n);
  for (long i = 0; i < n; ++i) {
    const uint32_t r = static_cast<uint32_t>(gen());
    const uint32_t s = r & 0x80000000u;
    switch (r % 16) {
      case 0: v[i] = from_bits(r); break;                                    // any pattern
      case 1: v[i] = from_bits((r & 0xFFFF0000u) | 0x8000u); break;           // bf16 tie
      case 2: v[i] = from_bits((bits(normal(gen)) & 0xFFFFE000u) | 0x1000u); break;  // fp16 tie
      case 3: v[i] = from_bits(s | 0x7F800000u | (static_cast<uint32_t>(gen()) & 0x007FFFFFu)); break;  // inf/NaN
      case 4: v[i] = from_bits(s | (static_cast<uint32_t>(gen()) & 0x007FFFFFu)); break;  // fp32 subnormal/zero
      case 5: v[i] = normal(gen) * 0x1p-20f; break;                           // fp16 subnormal range
      case 6: v[i] = from_bits(s | (0x477FE000u + (static_cast<uint32_t>(gen()) & 0x3FFFu))); break;  // ~65504..
      case 7: v[i] = from_bits(s | (0x7F7F0000u + (static_cast<uint32_t>(gen()) & 0xFFFFu))); break;  // ~bf16 max
      case 8: v[i] = s ? -0.0f : 0.0f; break;
      default: v[i] = normal(gen) * std::ldexp(1.0f, static_cast<int>(r % 41) - 20); break;
    }
  }
  return v;
}

TEST(Half, RoundToVectorEqualsPortable) {
  for (const Format* f : {&kBf16, &kFp16}) {
    // A long array (several parallel chunks and a ragged tail), then every short length and misaligned starts.
    const std::vector<float> base = random_with_specials(1'000'003, 7);
    std::vector<float> want = base, got = base;
    round_array_portable(*f, want.data(), static_cast<long>(want.size()));
    round_to(precision(*f), got.data(), static_cast<long>(got.size()));
    long bad = 0;
    for (size_t i = 0; i < base.size(); ++i)
      if (bits(got[i]) != bits(want[i]) && ++bad <= 5)
        ADD_FAILURE() << f->name << ": " << hex(bits(base[i])) << " -> round_to " << hex(bits(got[i]))
                      << ", portable " << hex(bits(want[i]));
    EXPECT_EQ(bad, 0);
    for (long offset = 0; offset < 3; ++offset)
      for (long n = 0; n <= 100; ++n) {
        std::vector<float> a(base.begin(), base.begin() + 104), b = a;
        round_array_portable(*f, a.data() + offset, n);
        round_to(precision(*f), b.data() + offset, n);
        for (long i = 0; i < 104; ++i)  // the elements outside [offset, offset + n) are untouched
          ASSERT_EQ(bits(a[i]), bits(b[i])) << f->name << " n=" << n << " offset=" << offset << " i=" << i;
      }
  }
}

TEST(Half, RoundToFp32IsNoOp) {
  const std::vector<float> base = random_with_specials(10'007, 3);
  std::vector<float> x = base;
  round_to(Precision::fp32, x.data(), static_cast<long>(x.size()));
  EXPECT_EQ(std::memcmp(x.data(), base.data(), base.size() * sizeof(float)), 0);
  round_to(Precision::bf16, nullptr, 0);  // empty is fine
}

TEST(Half, RoundToIsIdempotent) {
  // Rounding an already rounded buffer again changes nothing (NaNs included: they are quiet after the first).
  for (const Format* f : {&kBf16, &kFp16}) {
    std::vector<float> x = random_with_specials(100'000, 11), y;
    round_to(precision(*f), x.data(), static_cast<long>(x.size()));
    y = x;
    round_to(precision(*f), y.data(), static_cast<long>(y.size()));
    EXPECT_EQ(std::memcmp(x.data(), y.data(), x.size() * sizeof(float)), 0) << f->name;
  }
}

// ---- names and unit roundoffs -----------------------------------------------------------------------------------

TEST(Precision, NamesAndUnitRoundoff) {
  for (Precision p : {Precision::fp32, Precision::bf16, Precision::fp16}) EXPECT_EQ(parse_precision(to_string(p)), p);
  EXPECT_STREQ(to_string(Precision::fp32), "fp32");
  EXPECT_STREQ(to_string(Precision::bf16), "bf16");
  EXPECT_STREQ(to_string(Precision::fp16), "fp16");
  EXPECT_EQ(unit_roundoff(Precision::fp32), std::ldexp(1.0, -24));
  EXPECT_EQ(unit_roundoff(Precision::bf16), std::ldexp(1.0, -8));
  EXPECT_EQ(unit_roundoff(Precision::fp16), std::ldexp(1.0, -11));
  // The unit roundoff bounds the relative error of rounding a normal number, and is attained at a tie.
  EXPECT_EQ(round_to_bf16(1.0f + 0x1p-8f), 1.0f);
  EXPECT_EQ(round_to_fp16(1.0f + 0x1p-11f), 1.0f);
  std::mt19937 gen(5);
  std::uniform_real_distribution<float> dist(-1000.0f, 1000.0f);
  for (int i = 0; i < 100'000; ++i) {
    const float x = dist(gen);
    if (std::fabs(x) < 0x1p-14f) continue;
    EXPECT_LE(std::fabs(double(round_to_bf16(x)) - x), unit_roundoff(Precision::bf16) * std::fabs(x));
    EXPECT_LE(std::fabs(double(round_to_fp16(x)) - x), unit_roundoff(Precision::fp16) * std::fabs(x));
  }
}

TEST(Precision, UnknownNameIsAnError) {
  for (const char* s : {"fp64", "", "BF16", "bfloat16", "fp16 "}) {
    try {
      parse_precision(s);
      ADD_FAILURE() << "no error for '" << s << "'";
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()), std::string("unknown precision '") + s + "' (known: fp32, bf16, fp16)");
    }
  }
}

// ---- opt-in: all 2^32 floats -----------------------------------------------------------------------------------

TEST(Half, DISABLED_ExhaustiveAllFloats) {
  // round_to (vector path) against the portable path for every fp32 pattern, in blocks; the reference
  // encoder (slow) on every 61st pattern.
  const long kBlock = 1L << 24;
  std::vector<float> a(kBlock), b(kBlock), sample;
  for (const Format* f : {&kBf16, &kFp16}) {
    long bad = 0;
    for (uint64_t lo = 0; lo < (1ULL << 32); lo += kBlock) {
      for (long i = 0; i < kBlock; ++i) a[i] = from_bits(static_cast<uint32_t>(lo + i));
      b = a;
      round_array_portable(*f, a.data(), kBlock);
      round_to(precision(*f), b.data(), kBlock);
      if (std::memcmp(a.data(), b.data(), kBlock * sizeof(float)) != 0)
        for (long i = 0; i < kBlock; ++i)
          if (bits(a[i]) != bits(b[i]) && ++bad <= 5)
            ADD_FAILURE() << f->name << ": " << hex(static_cast<uint32_t>(lo + i)) << " portable " << hex(bits(a[i]))
                          << ", round_to " << hex(bits(b[i]));
      sample.clear();
      for (long i = static_cast<long>(lo % 61 ? 61 - lo % 61 : 0); i < kBlock; i += 61)
        sample.push_back(from_bits(static_cast<uint32_t>(lo + i)));
      bad += check_floats(*f, sample);
    }
    EXPECT_EQ(bad, 0) << f->name;
  }
}

}  // namespace
}  // namespace parity
