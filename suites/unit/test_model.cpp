// Whole-model checks on a very small GPT-2 (L=2, C=32, H=2, T=8, V=40 -> Vp=256, 2 sequences):
//   (a) GPT2::backward against finite differences of GPT2::forward (the sum of per-token losses) at elements
//       of every parameter tensor;
//   (b) the padding rows of wte get exactly zero gradient;
//   (c) two GPT2 instances (and repeated calls) give identical bits;
//   (d) exact and fast numerics agree within float rounding.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "reference/gpt2.hpp"
#include "reference/init.hpp"
#include "reference/params.hpp"

namespace parity {
namespace {

ModelConfig tiny_model() {
  ModelConfig m;
  m.L = 2;
  m.C = 32;
  m.H = 2;
  m.T = 8;
  m.V = 40;
  return m;
}
constexpr long kSeqs = 2;

// init_params, then made less degenerate for a gradient check: the 2-D weights scaled by 5 (std 0.1, the
// residual projections 0.1/sqrt(2L)), so that every block contributes visibly to the loss, and the vectors
// (biases 0, layernorm weights 1 at init) moved by N(0, 0.2^2) so that no gradient path is trivial.
// The padding rows of wte stay zero.
std::vector<float> test_params(const ParamLayout& lay, uint64_t seed) {
  const ModelConfig& m = lay.model();
  std::vector<float> P(lay.total());
  init_params(lay, seed, P.data());
  std::mt19937 gen(static_cast<uint32_t>(seed));
  std::normal_distribution<float> nd(0.0f, 0.2f);
  for (const auto& t : lay.tensors())
    for (long i = 0; i < t.size; ++i) {
      float& p = P[t.offset + i];
      if (t.decay) p *= 5.0f;
      else p += nd(gen);
    }
  for (long i = m.V * m.C; i < m.Vp() * m.C; ++i) EXPECT_EQ(P[lay.wte + i], 0.0f);
  return P;
}

struct Batch {
  std::vector<int32_t> inputs, targets;
};

Batch test_batch(const ModelConfig& m, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> d(0, static_cast<int>(m.V) - 1);
  Batch b;
  b.inputs.resize(kSeqs * m.T);
  b.targets.resize(kSeqs * m.T);
  for (auto& x : b.inputs) x = d(gen);
  for (auto& x : b.targets) x = d(gen);
  return b;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

uint32_t bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}

// ---------------------------------------------------------------------------------------------------------
// (a) Finite differences of the whole model.
//
// The loss is computed in float, so the differences are limited by its rounding noise (|L| ~ 60, noise
// ~1e-5): a plain central difference with h ~ 1e-3 would be off by ~1e-2. A sixth-order stencil,
//   (45 (L(h) - L(-h)) - 9 (L(2h) - L(-2h)) + (L(3h) - L(-3h))) / (60 h),
// lets h be large (h = 0.1, truncation error O(h^6)), which divides that noise by ~0.05 instead.
// Measured on 400 random elements of this model with |g| >= 6e-3: |fd - g| <= 0.34 of the tolerance
// |fd - g| <= 1e-3 |g| + 3e-4 (median 0.06); a fourth-order stencil at the same h reached 0.99.
//
// Why this can fail: every checked element is chosen with |g| >= 20 * 3e-4 = 6e-3 (elements are drawn at
// random until one qualifies), so its tolerance is at most ~6% of |g|. A backward pass that drops a term,
// misses a factor or mixes up an index is wrong by O(100%) of the gradient somewhere in the tensor it
// feeds, and the two elements drawn per tensor (wte: a row that is also an input token, and one that is
// not) see it; a tensor whose gradient is wrongly ~0 everywhere cannot produce a qualifying element and
// fails outright.

constexpr double kFdStep = 0.1, kRtol = 1e-3, kAtol = 3e-4, kMinGrad = 20 * kAtol;

double finite_difference(GPT2& g, std::vector<float>& P, long i, const Batch& b) {
  const float p0 = P[i];
  auto L = [&](double delta) {
    P[i] = static_cast<float>(p0 + delta);
    const double l = g.forward(P.data(), b.inputs.data(), b.targets.data());
    P[i] = p0;
    return l;
  };
  // Rounding p0 + k h to float changes the step by < 2^-22 relative (|p0| < 4), far below the tolerance.
  const double h = kFdStep;
  return (45.0 * (L(h) - L(-h)) - 9.0 * (L(2 * h) - L(-2 * h)) + (L(3 * h) - L(-3 * h))) / (60.0 * h);
}

TEST(Model, GradientMatchesFiniteDifferences) {
  const ModelConfig m = tiny_model();
  GPT2 g(m, Numerics::exact, kSeqs);
  const ParamLayout& lay = g.layout();
  std::vector<float> P = test_params(lay, 1234);
  const Batch b = test_batch(m, 99);
  std::vector<float> G(lay.total(), std::nanf(""));
  g.forward(P.data(), b.inputs.data(), b.targets.data());
  g.backward(P.data(), G.data(), b.inputs.data(), b.targets.data(), 1.0f);
  for (long i = 0; i < lay.total(); ++i) ASSERT_TRUE(std::isfinite(G[i])) << "grads must be fully overwritten at " << i;

  std::vector<bool> is_input(m.V, false);
  for (int32_t t : b.inputs) is_input[t] = true;

  std::mt19937 gen(4321);
  long checked = 0;
  for (const auto& t : lay.tensors()) {
    const long real = t.name == "wte" ? m.V * m.C : t.size;  // wte's padding rows: see PaddingRowsOfWte
    std::uniform_int_distribution<long> pick(0, real - 1);
    for (int k = 0; k < 2; ++k) {
      long i = -1;
      for (int tries = 0; tries < 5000 && i < 0; ++tries) {
        const long e = pick(gen);
        if (t.name == "wte" && is_input[e / m.C] != (k == 0)) continue;  // k=0: embedding + head; k=1: head
        if (std::fabs(G[t.offset + e]) >= kMinGrad) i = e;
      }
      ASSERT_GE(i, 0) << t.name << ": no element with |grad| >= " << kMinGrad << " (gradient wrongly ~0?)";
      const long at = t.offset + i;
      const double fd = finite_difference(g, P, at, b), gr = G[at];
      EXPECT_LE(std::fabs(fd - gr), kRtol * std::fabs(gr) + kAtol)
          << t.name << "[" << i << "]: backward " << gr << " finite difference " << fd;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 2 * static_cast<long>(lay.tensors().size()));
}

// The gradient is linear in dloss, and scaling by a power of two is exact in float, so backward(dloss =
// 1/4) is exactly a quarter of backward(dloss = 1): dloss enters once and nothing else depends on it.
TEST(Model, GradientScalesExactlyWithDloss) {
  const ModelConfig m = tiny_model();
  GPT2 g(m, Numerics::exact, kSeqs);
  const ParamLayout& lay = g.layout();
  const std::vector<float> P = test_params(lay, 1234);
  const Batch b = test_batch(m, 99);
  std::vector<float> G1(lay.total()), Gq(lay.total());
  g.forward(P.data(), b.inputs.data(), b.targets.data());
  g.backward(P.data(), G1.data(), b.inputs.data(), b.targets.data(), 1.0f);
  g.forward(P.data(), b.inputs.data(), b.targets.data());
  g.backward(P.data(), Gq.data(), b.inputs.data(), b.targets.data(), 0.25f);
  for (long i = 0; i < lay.total(); ++i) ASSERT_EQ(bits(Gq[i]), bits(0.25f * G1[i])) << "at " << i;
}

// ---------------------------------------------------------------------------------------------------------
// (b) Padding rows of wte: zero gradient (padded logits are masked; no input token is a padding id).

TEST(Model, PaddingRowsOfWteGetZeroGradient) {
  const ModelConfig m = tiny_model();
  ASSERT_EQ(m.Vp(), 256);
  for (Numerics num : {Numerics::exact, Numerics::fast}) {
    GPT2 g(m, num, kSeqs);
    const ParamLayout& lay = g.layout();
    const std::vector<float> P = test_params(lay, 7);
    const Batch b = test_batch(m, 8);
    std::vector<float> G(lay.total(), std::nanf(""));
    g.forward(P.data(), b.inputs.data(), b.targets.data());
    g.backward(P.data(), G.data(), b.inputs.data(), b.targets.data(), 1.0f / (kSeqs * m.T));
    long nonzero_real = 0;
    for (long v = 0; v < m.Vp(); ++v)
      for (long c = 0; c < m.C; ++c) {
        const float x = G[lay.wte + v * m.C + c];
        if (v >= m.V) {
          ASSERT_EQ(x, 0.0f) << "padding row " << v << " c=" << c << (num == Numerics::exact ? " exact" : " fast");
          if (num == Numerics::exact) {
            ASSERT_FALSE(std::signbit(x)) << "padding row " << v << " must be +0";
          }
        } else {
          nonzero_real += x != 0.0f;
        }
      }
    EXPECT_EQ(nonzero_real, m.V * m.C) << "every real row gets a head gradient";
  }
}

// ---------------------------------------------------------------------------------------------------------
// (c) Determinism: two instances, and repeated calls on one instance, give the same bits.

TEST(Model, DeterministicAcrossInstancesAndCalls) {
  const ModelConfig m = tiny_model();
  GPT2 a(m, Numerics::exact, kSeqs), c(m, Numerics::exact, kSeqs);
  const ParamLayout& lay = a.layout();
  const std::vector<float> P = test_params(lay, 11);
  const Batch b1 = test_batch(m, 12), b2 = test_batch(m, 13);
  const float dloss = 1.0f / (kSeqs * m.T);

  std::vector<float> Ga(lay.total()), Gc(lay.total(), std::nanf("")), Ga2(lay.total());
  const float la = a.forward(P.data(), b1.inputs.data(), b1.targets.data());
  a.backward(P.data(), Ga.data(), b1.inputs.data(), b1.targets.data(), dloss);
  // The second instance first sees another batch, so stale activations or scratch would show.
  c.forward(P.data(), b2.inputs.data(), b2.targets.data());
  std::vector<float> junk(lay.total());
  c.backward(P.data(), junk.data(), b2.inputs.data(), b2.targets.data(), dloss);
  const float lc = c.forward(P.data(), b1.inputs.data(), b1.targets.data());
  c.backward(P.data(), Gc.data(), b1.inputs.data(), b1.targets.data(), dloss);
  EXPECT_EQ(bits(la), bits(lc));
  EXPECT_TRUE(same_bits(Ga, Gc));
  EXPECT_FALSE(same_bits(Ga, junk)) << "a different batch must give a different gradient";

  const float la2 = a.forward(P.data(), b1.inputs.data(), b1.targets.data());
  a.backward(P.data(), Ga2.data(), b1.inputs.data(), b1.targets.data(), dloss);
  EXPECT_EQ(bits(la), bits(la2));
  EXPECT_TRUE(same_bits(Ga, Ga2));

  // The loss is a sum of N per-token cross-entropies of a near-uniform model: about N log V.
  EXPECT_GT(la, 0.5 * kSeqs * m.T * std::log(double(m.V)));
  EXPECT_LT(la, 2.0 * kSeqs * m.T * std::log(double(m.V)));
}

// ---------------------------------------------------------------------------------------------------------
// (d) exact vs fast (BLAS GEMMs): rounding differences only.

TEST(Model, ExactAndFastAgreeWithinRounding) {
  const ModelConfig m = tiny_model();
  GPT2 ex(m, Numerics::exact, kSeqs), fa(m, Numerics::fast, kSeqs);
  const ParamLayout& lay = ex.layout();
  const std::vector<float> P = test_params(lay, 21);
  const Batch b = test_batch(m, 22);
  const float le = ex.forward(P.data(), b.inputs.data(), b.targets.data());
  const float lf = fa.forward(P.data(), b.inputs.data(), b.targets.data());
  EXPECT_NEAR(le, lf, 5e-6 * std::fabs(le));  // measured 1.3e-7
  std::vector<float> Ge(lay.total()), Gf(lay.total());
  ex.backward(P.data(), Ge.data(), b.inputs.data(), b.targets.data(), 1.0f);
  fa.backward(P.data(), Gf.data(), b.inputs.data(), b.targets.data(), 1.0f);
  for (const auto& t : lay.tensors()) {
    double gmax = 0.0, dmax = 0.0;
    for (long i = 0; i < t.size; ++i) {
      gmax = std::max(gmax, double(std::fabs(Ge[t.offset + i])));
      dmax = std::max(dmax, double(std::fabs(Ge[t.offset + i] - Gf[t.offset + i])));
    }
    // measured: dmax <= 5e-7 gmax
    EXPECT_LE(dmax, 2e-5 * gmax) << t.name << ": max |exact - fast| " << dmax << " vs max |grad| " << gmax;
  }
}

}  // namespace
}  // namespace parity
