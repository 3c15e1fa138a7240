// GEMM kernels: exact mode is bit-identical to canonical_dot and splits like the canonical tree; fast mode
// is within rounding of an fp64 reference.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/canonical.hpp"
#include "kernels/gemm.hpp"

namespace parity {
namespace {

enum class Form { xwt, dyw, dytx };

const char* name(Form f) { return f == Form::xwt ? "xwt" : f == Form::dyw ? "dyw" : "dytx"; }

// A linear layer's shape: rows N, input features K, output features O (W is [O, K]).
struct Shape {
  long N, K, O;
};

std::string describe(Form f, const Shape& s) {
  return std::string(name(f)) + " N=" + std::to_string(s.N) + " K=" + std::to_string(s.K) +
         " O=" + std::to_string(s.O);
}

std::vector<float> random_vector(long n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

// The operands of one form: `lhs` is X (xwt) or dY (dyw, dytx); `rhs` is W (xwt, dyw) or X (dytx).
struct Problem {
  Form form;
  Shape s;
  std::vector<float> lhs, rhs, bias;

  Problem(Form f, Shape shape, uint32_t seed, float scale = 1.0f) : form(f), s(shape) {
    const long lhs_cols = f == Form::xwt ? s.K : s.O;
    const long rhs_size = f == Form::dytx ? s.N * s.K : s.O * s.K;
    lhs = random_vector(s.N * lhs_cols, seed, scale);
    rhs = random_vector(rhs_size, seed + 1, scale);
    bias = random_vector(s.O, seed + 2, scale);
  }
  long out_rows() const { return form == Form::dytx ? s.O : s.N; }
  long out_cols() const { return form == Form::xwt ? s.O : s.K; }
  long reduction() const { return form == Form::xwt ? s.K : form == Form::dyw ? s.O : s.N; }

  std::vector<float> run(Numerics num, bool with_bias = false) const {
    std::vector<float> out(out_rows() * out_cols(), std::nanf(""));
    switch (form) {
      case Form::xwt:
        gemm_xwt(num, lhs.data(), rhs.data(), with_bias ? bias.data() : nullptr, out.data(), s.N, s.K, s.O);
        break;
      case Form::dyw: gemm_dyw(num, lhs.data(), rhs.data(), out.data(), s.N, s.O, s.K); break;
      case Form::dytx: gemm_dytx(num, lhs.data(), rhs.data(), out.data(), s.N, s.O, s.K); break;
    }
    return out;
  }

  // Output (i, j) as a strided dot product: pointers to the first terms and the strides along the reduction.
  struct Terms {
    const float *a, *b;
    long sa, sb;
  };
  Terms terms(long i, long j) const {
    switch (form) {
      case Form::xwt: return {lhs.data() + i * s.K, rhs.data() + j * s.K, 1, 1};
      case Form::dyw: return {lhs.data() + i * s.O, rhs.data() + j, 1, s.K};
      case Form::dytx: return {lhs.data() + i, rhs.data() + j, s.O, s.K};
    }
    return {};
  }

  std::vector<float> canonical(bool with_bias = false) const {
    std::vector<float> out(out_rows() * out_cols());
    for (long i = 0; i < out_rows(); ++i)
      for (long j = 0; j < out_cols(); ++j) {
        const Terms t = terms(i, j);
        const float dot = canonical_dot(t.a, t.b, reduction(), t.sa, t.sb);
        out[i * out_cols() + j] = with_bias ? dot + bias[j] : dot;
      }
    return out;
  }

  // fp64 reference and, per element, the sum of |terms| that scales its rounding error.
  void fp64(std::vector<double>& ref, std::vector<double>& magnitude) const {
    ref.assign(out_rows() * out_cols(), 0.0);
    magnitude.assign(ref.size(), 0.0);
    for (long i = 0; i < out_rows(); ++i)
      for (long j = 0; j < out_cols(); ++j) {
        const Terms t = terms(i, j);
        double sum = 0.0, mag = 0.0;
        for (long r = 0; r < reduction(); ++r) {
          const double p = double(t.a[r * t.sa]) * double(t.b[r * t.sb]);
          sum += p;
          mag += std::fabs(p);
        }
        ref[i * out_cols() + j] = sum;
        magnitude[i * out_cols() + j] = mag;
      }
  }
};

uint32_t bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}

std::string hex_bits(float x) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", static_cast<unsigned>(bits(x)));
  return buf;
}

// Bitwise equality, reporting the first mismatching element.
::testing::AssertionResult BitEqual(const std::vector<float>& got, const std::vector<float>& want, long cols) {
  if (got.size() != want.size()) return ::testing::AssertionFailure() << "size " << got.size() << " vs " << want.size();
  for (size_t e = 0; e < got.size(); ++e)
    if (bits(got[e]) != bits(want[e]))
      return ::testing::AssertionFailure() << "element (" << e / cols << ", " << e % cols << "): " << got[e] << " ("
                                           << hex_bits(got[e]) << ") vs " << want[e] << " (" << hex_bits(want[e]) << ")";
  return ::testing::AssertionSuccess();
}

// |got - ref| <= rel * sum |terms|, per element.
::testing::AssertionResult Near(const Problem& p, const std::vector<float>& got, double rel) {
  std::vector<double> ref, mag;
  p.fp64(ref, mag);
  for (size_t e = 0; e < got.size(); ++e) {
    const double err = std::fabs(double(got[e]) - ref[e]);
    if (!(err <= rel * mag[e]))
      return ::testing::AssertionFailure() << "element " << e << ": " << got[e] << " vs fp64 " << ref[e]
                                           << ", error " << err << " > " << rel << " * " << mag[e];
  }
  return ::testing::AssertionSuccess();
}

// Edge shapes (ragged tiles, ragged last k-block, single elements), a model shape, and reductions longer than
// the kernel's 2048-long chunks (K for xwt, O for dyw, N for dytx) over several blocks of rows; small enough
// for the scalar references.
const std::vector<Shape> kShapes = {
    {1, 1, 1},   {7, 33, 31},    {13, 100, 65},    {64, 128, 384}, {130, 257, 70}, {6, 32, 32},
    {1, 1000, 3}, {5, 64, 17},   {100, 1, 50},     {2, 3, 1},      {12, 96, 64},   {37, 1500, 45},
    {50, 2100, 45}, {130, 2100, 70}, {2100, 40, 100}, {50, 30, 2100},
};
const Form kForms[] = {Form::xwt, Form::dyw, Form::dytx};

TEST(Gemm, ExactIsBitIdenticalToCanonicalDot) {
  uint32_t seed = 1;
  for (Form f : kForms)
    for (const Shape& s : kShapes) {
      SCOPED_TRACE(describe(f, s));
      const Problem p(f, s, seed += 3);
      const std::vector<float> got = p.run(Numerics::exact);
      EXPECT_TRUE(BitEqual(got, p.canonical(), p.out_cols()));
      EXPECT_TRUE(Near(p, got, 1e-5 * std::sqrt(double(p.reduction()))));
    }
}

TEST(Gemm, ExactBiasIsAddedAfterTheSum) {
  for (const Shape& s : kShapes) {
    SCOPED_TRACE(describe(Form::xwt, s));
    const Problem p(Form::xwt, s, 99);
    EXPECT_TRUE(BitEqual(p.run(Numerics::exact, true), p.canonical(true), p.out_cols()));
  }
}

// Products that underflow to signed zeros, and zero operands: the canonical chain starts every block from +0
// and has no padding terms, so the signs of zero results must match the scalar reference.
TEST(Gemm, ExactKeepsSignedZerosOfUnderflowingProducts) {
  for (Form f : kForms)
    for (const Shape& s : {Shape{7, 45, 33}, Shape{13, 100, 65}}) {
      SCOPED_TRACE(describe(f, s));
      const Problem tiny(f, s, 5, 1e-23f);
      EXPECT_TRUE(BitEqual(tiny.run(Numerics::exact), tiny.canonical(), tiny.out_cols()));
      Problem zeros(f, s, 6);
      for (float& x : zeros.lhs) x = -0.0f;
      EXPECT_TRUE(BitEqual(zeros.run(Numerics::exact), zeros.canonical(), zeros.out_cols()));
    }
}

TEST(Gemm, ExactOverwritesTheOutputAndRepeats) {
  const Problem p(Form::xwt, {13, 100, 65}, 7);
  const std::vector<float> first = p.run(Numerics::exact, true);
  EXPECT_TRUE(BitEqual(p.run(Numerics::exact, true), first, p.out_cols()));
}

TEST(Gemm, EmptyReductionGivesZeroPlusBias) {
  for (Numerics num : {Numerics::exact, Numerics::fast}) {
    const Problem p(Form::xwt, {5, 0, 7}, 8);
    EXPECT_TRUE(BitEqual(p.run(num, true), p.canonical(true), p.out_cols()));
    for (Form f : {Form::dyw, Form::dytx}) {
      const Problem q(f, f == Form::dyw ? Shape{5, 7, 0} : Shape{0, 7, 5}, 9);
      EXPECT_TRUE(BitEqual(q.run(num), q.canonical(), q.out_cols()));
    }
  }
}

// Tensor parallelism splits a reduction of 32 * 2^j * q terms into 2^j contiguous parts, one per rank, and
// combines the parts' results with the pairwise tree: that must reproduce the unsplit GEMM bit for bit.
TEST(Gemm, ExactSplitReductionCombinesToTheUnsplitResult) {
  const long q = 9;  // j = 3 gives a 2304-long reduction: more than one kernel chunk
  for (int j = 1; j <= 3; ++j)
    for (Form f : kForms) {
      const long parts = 1L << j, R = kBlock * parts * q, Rp = R / parts;
      // The reduced dimension is K for xwt, O for dyw, N for dytx.
      const Shape s = f == Form::xwt ? Shape{11, R, 45} : f == Form::dyw ? Shape{11, 45, R} : Shape{R, 11, 45};
      SCOPED_TRACE(describe(f, s) + " parts=" + std::to_string(parts));
      const Problem full(f, s, 40 + j);
      const std::vector<float> whole = full.run(Numerics::exact);

      std::vector<std::vector<float>> results;
      for (long part = 0; part < parts; ++part) {
        Problem p(f, f == Form::xwt ? Shape{s.N, Rp, s.O} : f == Form::dyw ? Shape{s.N, s.K, Rp} : Shape{Rp, s.K, s.O},
                  0);
        const long r0 = part * Rp;
        switch (f) {
          case Form::xwt:  // columns [r0, r0 + Rp) of X and of W
            for (long n = 0; n < s.N; ++n)
              for (long r = 0; r < Rp; ++r) p.lhs[n * Rp + r] = full.lhs[n * R + r0 + r];
            for (long o = 0; o < s.O; ++o)
              for (long r = 0; r < Rp; ++r) p.rhs[o * Rp + r] = full.rhs[o * R + r0 + r];
            break;
          case Form::dyw:  // columns of dY, rows of W
            for (long n = 0; n < s.N; ++n)
              for (long r = 0; r < Rp; ++r) p.lhs[n * Rp + r] = full.lhs[n * R + r0 + r];
            for (long e = 0; e < Rp * s.K; ++e) p.rhs[e] = full.rhs[r0 * s.K + e];
            break;
          case Form::dytx:  // rows of dY and of X
            for (long e = 0; e < Rp * s.O; ++e) p.lhs[e] = full.lhs[r0 * s.O + e];
            for (long e = 0; e < Rp * s.K; ++e) p.rhs[e] = full.rhs[r0 * s.K + e];
            break;
        }
        results.push_back(p.run(Numerics::exact));
      }
      std::vector<float> combined(whole.size());
      for (size_t e = 0; e < whole.size(); ++e)
        combined[e] = tree_reduce(0, parts, [&](long part) { return results[part][e]; });
      EXPECT_TRUE(BitEqual(combined, whole, full.out_cols()));
    }
}

TEST(Gemm, FastIsWithinRoundingOfFp64) {
  uint32_t seed = 500;
  for (Form f : kForms)
    for (const Shape& s : kShapes) {
      SCOPED_TRACE(describe(f, s));
      const Problem p(f, s, seed += 3);
      EXPECT_TRUE(Near(p, p.run(Numerics::fast), 1e-5 * std::sqrt(double(p.reduction()))));
    }
  const Problem p(Form::xwt, {13, 100, 65}, 77);
  std::vector<float> got = p.run(Numerics::fast, true);
  const std::vector<float> no_bias = p.run(Numerics::fast);
  for (long n = 0; n < p.s.N; ++n)
    for (long o = 0; o < p.s.O; ++o) EXPECT_EQ(got[n * p.s.O + o], no_bias[n * p.s.O + o] + p.bias[o]);
}

}  // namespace
}  // namespace parity
