// parity's exp and tanh against fp64 libm (accuracy in ulps), and the AVX-512 form against the scalar
// form bit for bit (the property that makes them one implementation).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/vmath.hpp"

namespace {

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

// Distance in ulps between a float and the exact (fp64) value, measured in the float's own ulp.
double ulps(float got, double want) {
  if (std::isinf(want) || std::isinf(got)) return std::isinf(want) && got == static_cast<float>(want) ? 0 : 1e30;
  const float w = static_cast<float>(want);
  const double ulp = std::nextafter(std::fabs(w), INFINITY) - std::fabs(w);
  return std::fabs(static_cast<double>(got) - want) / ulp;
}

std::vector<float> sweep(float lo, float hi, long n) {
  std::vector<float> x(n);
  for (long i = 0; i < n; ++i) x[i] = lo + (hi - lo) * static_cast<float>(i) / static_cast<float>(n - 1);
  return x;
}

TEST(Vmath, ExpWithinOneUlpOverItsRange) {
  double worst = 0;
  for (float x : sweep(-103.0f, 88.7f, 2000003)) {
    const double want = std::exp(static_cast<double>(x));
    if (want < std::numeric_limits<float>::min()) continue;  // denormal results: checked below in absolute terms
    worst = std::max(worst, ulps(parity::vm::exp(x), want));
  }
  EXPECT_LE(worst, 1.5) << "worst error of vm::exp in ulps";
  for (float x : sweep(-103.9f, -87.4f, 10001))  // denormal range: error below one denormal step
    EXPECT_LE(std::fabs(parity::vm::exp(x) - std::exp(static_cast<double>(x))), 1.5e-45) << x;
}

TEST(Vmath, ExpSpecialValues) {
  using parity::vm::exp;
  EXPECT_EQ(exp(0.0f), 1.0f);
  EXPECT_EQ(exp(-0.0f), 1.0f);
  EXPECT_EQ(exp(-INFINITY), 0.0f);
  EXPECT_EQ(exp(INFINITY), INFINITY);
  EXPECT_EQ(exp(89.0f), INFINITY);
  EXPECT_EQ(exp(-200.0f), 0.0f);
  EXPECT_TRUE(std::isnan(exp(NAN)));
  EXPECT_EQ(exp(1.0f), static_cast<float>(std::exp(1.0)));
}

TEST(Vmath, TanhAccurate) {
  double worst_rel = 0, worst_abs = 0;
  for (float x : sweep(-12.0f, 12.0f, 2000001)) {
    const double want = std::tanh(static_cast<double>(x));
    const float got = parity::vm::tanh(x);
    worst_abs = std::max(worst_abs, std::fabs(got - want));
    if (std::fabs(want) > 1e-30) worst_rel = std::max(worst_rel, ulps(got, want));
  }
  EXPECT_LE(worst_rel, 2.0) << "worst error of vm::tanh in ulps";
  EXPECT_LE(worst_abs, 1.2e-7);
  EXPECT_EQ(parity::vm::tanh(0.0f), 0.0f);
  EXPECT_TRUE(std::signbit(parity::vm::tanh(-0.0f)));
  EXPECT_EQ(parity::vm::tanh(100.0f), 1.0f);
  EXPECT_EQ(parity::vm::tanh(-INFINITY), -1.0f);
  EXPECT_TRUE(std::isnan(parity::vm::tanh(NAN)));
  EXPECT_EQ(parity::vm::tanh(-0.3f), -parity::vm::tanh(0.3f));
}

// The array forms take the vector path for whole groups of 16 and the scalar one for the rest; shifting the
// start by one element moves every input from one path to the other.
TEST(Vmath, VectorAndScalarPathsAgreeBitForBit) {
  std::vector<float> x = sweep(-110.0f, 95.0f, 100003);
  x.push_back(0.0f);
  x.push_back(-0.0f);
  x.push_back(INFINITY);
  x.push_back(-INFINITY);
  x.push_back(std::numeric_limits<float>::denorm_min());
  x.push_back(0.625f);
  x.push_back(-0.625f);
  x.push_back(std::nextafter(0.625f, 0.0f));
  for (long offset = 0; offset < 2; ++offset) {
    const long n = static_cast<long>(x.size()) - offset;
    std::vector<float> e(n), t(n), s(n);
    parity::vm::exp_array(e.data(), x.data() + offset, n);
    parity::vm::tanh_array(t.data(), x.data() + offset, n);
    parity::vm::exp_shifted(s.data(), x.data() + offset, 1.5f, n);
    for (long i = 0; i < n; ++i) {
      const float xi = x[offset + i];
      ASSERT_EQ(bits(e[i]), bits(parity::vm::exp(xi))) << "exp(" << xi << ")";
      ASSERT_EQ(bits(t[i]), bits(parity::vm::tanh(xi))) << "tanh(" << xi << ")";
      ASSERT_EQ(bits(s[i]), bits(parity::vm::exp(xi - 1.5f))) << "exp(" << xi << " - 1.5)";
    }
  }
}

}  // namespace

#include "kernels/gelu.hpp"

// The device form of GELU (Kokkos's default execution space; here the host) gives the host kernel's bits.
TEST(Vmath, GeluDeviceFormMatchesHostKernel) {
  std::vector<float> x = sweep(-12.0f, 12.0f, 100003);
  const long n = static_cast<long>(x.size());
  std::vector<float> o1(n), t1(n), o2(n), t2(n);
  parity::gelu_forward(o1.data(), t1.data(), x.data(), n);
  parity::gelu_forward_device(o2.data(), t2.data(), x.data(), n);
  for (long i = 0; i < n; ++i) {
    ASSERT_EQ(bits(o1[i]), bits(o2[i])) << x[i];
    ASSERT_EQ(bits(t1[i]), bits(t2[i])) << x[i];
  }
}
