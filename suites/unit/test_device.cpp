// The device-callable canonical order (parity::dev, kernels/device.hpp) against kernels/canonical.hpp, and
// the target-dispatched helpers on both targets. In the CPU build "device" is Kokkos's default execution
// space on the host, so the device forms run here; the comparisons are bit for bit.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <algorithm>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/canonical.hpp"
#include "kernels/device.hpp"

namespace parity {
namespace {

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

using TargetGuard = ScopedTarget;  // kernels/device.hpp

std::vector<float> random_values(long n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> x(n);
  for (float& v : x) v = u(rng) * std::ldexp(1.0f, static_cast<int>(rng() % 20) - 10);  // wide magnitudes
  return x;
}

TEST(Device, TreeMergesMatchTheRecursiveTree) {
  for (long n = 1; n <= 300; ++n) {
    std::vector<uint8_t> m;
    tree_merge_counts(n, m);
    for (long i = 0; i < n; ++i) ASSERT_EQ(dev::tree_merges(i, n), m[i]) << "n=" << n << " i=" << i;
  }
}

// A device-callable term function (a host lambda would make nvcc warn about the __host__ __device__ caller).
struct Squares {
  const float* x;
  KOKKOS_INLINE_FUNCTION float operator()(long i) const { return x[i] * x[i]; }
};

TEST(Device, CanonicalSumAndDotMatchTheHostForms) {
  for (long n : {0L, 1L, 7L, 31L, 32L, 33L, 64L, 65L, 100L, 1000L, 4097L}) {
    const std::vector<float> x = random_values(n, 1 + n), y = random_values(n, 2 + n);
    EXPECT_EQ(bits(dev::canonical_sum(x.data(), n)), bits(canonical_sum(x.data(), n))) << n;
    EXPECT_EQ(bits(dev::canonical_dot(x.data(), y.data(), n)), bits(canonical_dot(x.data(), y.data(), n))) << n;
    if (n >= 2) {  // strided: every other element
      const long h = n / 2;
      EXPECT_EQ(bits(dev::canonical_sum(x.data(), h, 2)), bits(canonical_sum(x.data(), h, 2))) << n;
      EXPECT_EQ(bits(dev::canonical_dot(x.data(), y.data() + 1, h, 2, 2)),
                bits(canonical_dot(x.data(), y.data() + 1, h, 2, 2))) << n;
    }
    const float* xp = x.data();
    EXPECT_EQ(bits(dev::canonical_sum_of(n, Squares{xp})),
              bits(canonical_sum_of(n, [&](long i) { return x[i] * x[i]; }))) << n;
  }
}

TEST(Device, UnifiedVecTreeMatchesHostVecTree) {
  const long width = 77;
  for (long leaves : {1L, 2L, 3L, 5L, 8L}) {
    VecTree host(leaves, width);
    UVecTree devt(leaves, width);
    TargetGuard g(Target::device);
    for (long i = 0; i < leaves; ++i) {
      const std::vector<float> leaf = random_values(width, 10 * leaves + i);
      std::copy(leaf.begin(), leaf.end(), host.leaf());
      std::copy(leaf.begin(), leaf.end(), devt.leaf());
      host.push();
      if (i + 1 < leaves) {
        devt.push();
      } else {  // the last leaf through finish_range in two pieces, as the trainer's overlap does
        uvector<float> out(width);
        devt.finish_range(0, 40, out.data());
        devt.finish_range(40, width, out.data());
        for (long c = 0; c < width; ++c) ASSERT_EQ(bits(out[c]), bits(host.result()[c])) << leaves << " " << c;
      }
    }
  }
}

TEST(Device, HelpersGiveTheSameBitsOnBothTargets) {
  const long N = 37, C = 19, T = 5, n = N * C;
  const std::vector<float> a = random_values(n, 3), b = random_values(n, 4), table = random_values(T * C, 5);
  std::vector<float> out[2];
  std::vector<float> dots[2];
  bool nonfinite[2][3];
  for (int t = 0; t < 2; ++t) {
    TargetGuard g(t ? Target::device : Target::host);
    uvector<float> x(a.begin(), a.end()), y(b.begin(), b.end()), tab(table.begin(), table.end()), d(n / 32 + 1);
    add_rows(x.data(), tab.data(), N, C, T);
    add_into(x.data(), y.data(), n);
    scale(x.data(), n, 0.375f);
    round_to(Precision::bf16, x.data(), n / 2);
    block_dots(x.data(), n, d.data());
    copy(y.data(), x.data(), n);
    fill(y.data(), 3, 2.0f);
    out[t].assign(y.begin(), y.end());
    dots[t].assign(d.begin(), d.end());
    nonfinite[t][0] = any_nonfinite(x.data(), n);
    x[n - 1] = std::numeric_limits<float>::infinity();
    nonfinite[t][1] = any_nonfinite(x.data(), n);
    x[n - 1] = std::nanf("");
    nonfinite[t][2] = any_nonfinite(x.data(), n);
  }
  for (long i = 0; i < n; ++i) ASSERT_EQ(bits(out[0][i]), bits(out[1][i])) << i;
  for (size_t i = 0; i < dots[0].size(); ++i) ASSERT_EQ(bits(dots[0][i]), bits(dots[1][i])) << i;
  for (int k = 0; k < 3; ++k) EXPECT_EQ(nonfinite[0][k], nonfinite[1][k]) << k;
  EXPECT_FALSE(nonfinite[1][0]);
  EXPECT_TRUE(nonfinite[1][1]);
  EXPECT_TRUE(nonfinite[1][2]);
  EXPECT_EQ(bits(out[1][0]), bits(2.0f));
}

// The two-phase sums (block sums in parallel, then the tree) against the one-pass canonical forms, and the
// two-phase max against the sequential std::max loop, with ties of +0/-0 and NaNs that it must skip.
TEST(Device, TwoPhaseSumsAndMaxMatchTheOnePassForms) {
  for (long rows : {1L, 31L, 33L, 100L}) {
    for (long n : {0L, 1L, 32L, 45L, 257L}) {
      std::vector<float> x = random_values(rows * n + 3, static_cast<uint32_t>(rows * 1000 + n));
      for (size_t i = 0; i < x.size(); i += 7) x[i] = (i % 2) ? -0.0f : 0.0f;
      if (x.size() > 20) x[19] = std::nanf("");
      if (n >= 45) {  // row 0: all negative but a -0 (first) and a +0 in a later block: the max is the -0
        for (long k = 0; k < n; ++k) x[k] = -std::fabs(x[k]) - 1.0f;
        x[3] = -0.0f;
        x[40] = 0.0f;
      }
      for (Target target : {Target::host, Target::device}) {
        uvector<float> ux(x.begin(), x.end()), cs(n), rs(rows), rm(rows);
        {
          ScopedTarget t(target);
          column_sums_2p(ux.data(), rows, n, n, cs.data());
          row_sums_2p(ux.data(), rows, n, n, rs.data());
          row_max_2p(ux.data(), rows, n, n, rm.data());
        }
        std::vector<float> want(n);
        if (n > 0) column_sums(x.data(), rows, n, n, want.data());
        for (long c = 0; c < n; ++c)
          ASSERT_EQ(bits(cs[c]), bits(want[c])) << to_string(target) << " " << rows << "x" << n << " column " << c;
        for (long r = 0; r < rows; ++r) {
          ASSERT_EQ(bits(rs[r]), bits(canonical_sum(x.data() + r * n, n))) << rows << "x" << n << " row " << r;
          float m = -INFINITY;
          for (long k = 0; k < n; ++k) m = std::max(m, x[r * n + k]);
          ASSERT_EQ(bits(rm[r]), bits(m)) << rows << "x" << n << " max of row " << r;
        }
      }
    }
  }
}

}  // namespace
}  // namespace parity
