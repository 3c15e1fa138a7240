// Device forms of the GEMMs, the linear layer's bias gradient and attention (kernels/device.hpp): with the
// kernel target set to device they must give the host form's exact-mode bits. In the CPU build the device
// space is the host's (Serial), so this runs without a GPU; in the CUDA build the same comparisons hold on it.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/attention.hpp"
#include "kernels/device.hpp"
#include "kernels/gemm.hpp"
#include "kernels/linear.hpp"

namespace parity {
namespace {

using VecF = uvector<float>;

using TargetGuard = ScopedTarget;  // kernels/device.hpp

// Random values, with some signed zeros mixed in (sign-of-zero handling must agree too).
VecF random_vec(long n, uint32_t seed, bool zeros = true) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  VecF v(n);
  for (long i = 0; i < n; ++i) {
    v[i] = d(gen);
    if (zeros && i % 17 == 5) v[i] = (i % 2) ? -0.0f : 0.0f;
  }
  return v;
}

// Runs f under the host target, then under the device target, each time into a NaN-filled output of n floats.
template <class F>
void host_and_device(long n, const F& f, VecF& host, VecF& dev) {
  host.assign(n, std::nanf(""));
  dev.assign(n, std::nanf(""));
  {
    TargetGuard g(Target::host);
    f(host.data());
  }
  {
    TargetGuard g(Target::device);
    f(dev.data());
  }
}

void expect_same_bits(const VecF& a, const VecF& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) {
    uint32_t x, y;
    std::memcpy(&x, &a[i], 4);
    std::memcpy(&y, &b[i], 4);
    ASSERT_EQ(x, y) << what << ": element " << i << " host " << a[i] << " device " << b[i];
  }
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << what;
}

struct Shape {
  long N, K, O;
};
// Reductions of one block, several blocks (a tree), ragged last blocks, and an empty one.
const Shape kShapes[] = {{37, 70, 45}, {5, 32, 3}, {64, 129, 33}, {1, 1, 1}, {3, 0, 4}, {2, 300, 7}};

std::string describe(const char* form, const Shape& s) {
  return std::string(form) + " N=" + std::to_string(s.N) + " K=" + std::to_string(s.K) + " O=" + std::to_string(s.O);
}

TEST(DeviceGemm, XwtExactMatchesHostBits) {
  for (const Shape& s : kShapes) {
    const VecF X = random_vec(s.N * s.K, 1), W = random_vec(s.O * s.K, 2), b = random_vec(s.O, 3);
    for (const float* bias : {static_cast<const float*>(nullptr), b.data()}) {
      VecF h, d;
      host_and_device(s.N * s.O, [&](float* Y) { gemm_xwt(Numerics::exact, X.data(), W.data(), bias, Y, s.N, s.K, s.O); },
                      h, d);
      expect_same_bits(h, d, describe(bias ? "xwt+bias" : "xwt", s));
    }
  }
}

TEST(DeviceGemm, DywExactMatchesHostBits) {
  for (const Shape& s : kShapes) {
    const VecF dY = random_vec(s.N * s.O, 4), W = random_vec(s.O * s.K, 5);
    VecF h, d;
    host_and_device(s.N * s.K, [&](float* dX) { gemm_dyw(Numerics::exact, dY.data(), W.data(), dX, s.N, s.O, s.K); },
                    h, d);
    expect_same_bits(h, d, describe("dyw", s));
    // The reduction over O: use the shape's K as O too, so every shape reduces over 70, 32, 129, ... somewhere.
    const Shape t{s.N, s.O, s.K};
    const VecF dY2 = random_vec(t.N * t.O, 6), W2 = random_vec(t.O * t.K, 7);
    host_and_device(t.N * t.K,
                    [&](float* dX) { gemm_dyw(Numerics::exact, dY2.data(), W2.data(), dX, t.N, t.O, t.K); }, h, d);
    expect_same_bits(h, d, describe("dyw", t));
  }
}

TEST(DeviceGemm, DytxExactMatchesHostBits) {
  for (const Shape& s : kShapes) {
    // Reduction over N: take the shape's K as N so that it spans several blocks.
    const long N = s.K, O = s.O, K = s.N;
    const VecF dY = random_vec(N * O, 8), X = random_vec(N * K, 9);
    VecF h, d;
    host_and_device(O * K, [&](float* dW) { gemm_dytx(Numerics::exact, dY.data(), X.data(), dW, N, O, K); }, h, d);
    expect_same_bits(h, d, describe("dytx", {N, K, O}));
  }
}

TEST(DeviceGemm, StridedExactMatchesHostBits) {
  const long M = 37, N = 45, R = 70, ldy = N + 3;
  // A stored [M, R] (sr = 1) or [R, M] (si = 1); B likewise; plus a fully strided A (neither stride 1).
  const VecF a = random_vec(3 * M * R, 10), b = random_vec(N * R, 11);
  struct Case {
    Operand A, B;
    const char* what;
  } cases[] = {
      {{a.data(), R, 1}, {b.data(), R, 1}, "A rows, B rows"},
      {{a.data(), 1, M}, {b.data(), 1, N}, "A cols, B cols"},
      {{a.data(), R, 1}, {b.data(), 1, N}, "A rows, B cols"},
      {{a.data(), 3, 3 * M}, {b.data(), R, 1}, "A strided 3"},
  };
  for (const Case& c : cases)
    for (Numerics num : {Numerics::exact, Numerics::fast}) {
      VecF h, d;
      // The device form is exact in both numerics: compare with the host's exact bits.
      host_and_device(M * ldy, [&](float* Y) {
        gemm_strided(on_device() ? num : Numerics::exact, c.A, c.B, Y, ldy, M, N, R);
      }, h, d);
      expect_same_bits(h, d, std::string("strided ") + c.what + (num == Numerics::fast ? " (fast)" : ""));
    }
}

// Fast numerics with the device target: cuBLAS in the CUDA build, host BLAS in the CPU build. Not the exact
// bits, but within float rounding of them.
TEST(DeviceGemm, FastRunsAndIsClose) {
  const long N = 37, K = 70, O = 45;
  const VecF X = random_vec(N * K, 12, false), W = random_vec(O * K, 13, false), b = random_vec(O, 14, false);
  const VecF dY = random_vec(N * O, 15, false);
  auto close = [](const VecF& ref, const VecF& got, const char* what) {
    ASSERT_EQ(ref.size(), got.size());
    double scale = 0.0;
    for (float v : ref) scale = std::max(scale, std::fabs(double(v)));
    for (size_t i = 0; i < ref.size(); ++i)
      ASSERT_LE(std::fabs(double(ref[i]) - double(got[i])), 1e-4 * scale + 1e-6) << what << " element " << i;
  };
  VecF exact(N * O), fast(N * O, std::nanf(""));
  gemm_xwt(Numerics::exact, X.data(), W.data(), b.data(), exact.data(), N, K, O);
  {
    TargetGuard g(Target::device);
    gemm_xwt(Numerics::fast, X.data(), W.data(), b.data(), fast.data(), N, K, O);
  }
  close(exact, fast, "xwt");
  VecF exact2(N * K), fast2(N * K, std::nanf(""));
  gemm_dyw(Numerics::exact, dY.data(), W.data(), exact2.data(), N, O, K);
  {
    TargetGuard g(Target::device);
    gemm_dyw(Numerics::fast, dY.data(), W.data(), fast2.data(), N, O, K);
  }
  close(exact2, fast2, "dyw");
  VecF exact3(O * K), fast3(O * K, std::nanf(""));
  gemm_dytx(Numerics::exact, dY.data(), X.data(), exact3.data(), N, O, K);
  {
    TargetGuard g(Target::device);
    gemm_dytx(Numerics::fast, dY.data(), X.data(), fast3.data(), N, O, K);
  }
  close(exact3, fast3, "dytx");
  EXPECT_EQ(kernel_target(), Target::host);
}

TEST(DeviceLinear, BackwardMatchesHostBits) {
  for (const Shape& s : kShapes) {
    // Reduction over N for dW and db: take a long N.
    const long N = s.K + 5, K = s.N, O = s.O;
    const VecF dY = random_vec(N * O, 16), X = random_vec(N * K, 17), W = random_vec(O * K, 18);
    VecF h, d;
    const long nx = N * K, nw = O * K, nb = O;
    host_and_device(nx + nw + nb, [&](float* out) {
      linear_backward(Numerics::exact, out, out + nx, out + nx + nw, dY.data(), X.data(), W.data(), N, K, O);
    }, h, d);
    expect_same_bits(h, d, describe("linear_backward", {N, K, O}));
    // db alone (the other gradients skipped).
    host_and_device(nb, [&](float* db) {
      linear_backward(Numerics::exact, nullptr, nullptr, db, dY.data(), X.data(), W.data(), N, K, O);
    }, h, d);
    expect_same_bits(h, d, describe("linear db", {N, K, O}));
  }
}

struct AttnShape {
  long S, T, Hl, hs;
};

TEST(DeviceAttention, ForwardAndBackwardMatchHostExactBits) {
  for (const AttnShape& a : {AttnShape{2, 45, 2, 16}, AttnShape{1, 70, 1, 32}, AttnShape{2, 1, 3, 8},
                             AttnShape{1, 97, 2, 40}}) {
    const long N = a.S * a.T, C3 = a.Hl * 3 * a.hs, Cl = a.Hl * a.hs, nA = a.S * a.Hl * a.T * a.T;
    const VecF qkv = random_vec(N * C3, 19, false), dout = random_vec(N * Cl, 20, false);
    const std::string what = "attention S=" + std::to_string(a.S) + " T=" + std::to_string(a.T) +
                             " Hl=" + std::to_string(a.Hl) + " hs=" + std::to_string(a.hs);
    // Device numerics is exact whichever is asked for: compare device (exact and fast) with host exact.
    for (Numerics num : {Numerics::exact, Numerics::fast}) {
      VecF h, d;
      host_and_device(N * Cl + nA, [&](float* o) {
        attention_forward(o, o + N * Cl, qkv.data(), a.S, a.T, a.Hl, a.hs, on_device() ? num : Numerics::exact);
      }, h, d);
      expect_same_bits(h, d, what + " forward");
      const VecF att(h.begin() + N * Cl, h.end());
      host_and_device(N * C3, [&](float* dqkv) {
        attention_backward(dqkv, dout.data(), qkv.data(), att.data(), a.S, a.T, a.Hl, a.hs,
                           on_device() ? num : Numerics::exact);
      }, h, d);
      expect_same_bits(h, d, what + " backward");
    }
  }
  EXPECT_EQ(kernel_target(), Target::host);
}

}  // namespace
}  // namespace parity
