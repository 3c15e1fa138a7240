// reference/ownership.hpp: the ZeRO-1 partition. zero_counts(n, p) cuts n elements into p near-equal parts
// of whole 32-element units (the gradient-norm units and the canonical blocks, so that no unit straddles two
// ranks); zero_regions cuts a rank's local buffer into two regions, wte and the rest, each partitioned
// that way, with this DP rank's shard start. No MPI: the layouts are built directly.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <string>
#include <vector>

#include "reference/ownership.hpp"
#include "reference/params.hpp"
#include "reference/shard_layout.hpp"

namespace parity {
namespace {

constexpr long kUnit = 32;

long sum(const std::vector<long>& v) { return std::accumulate(v.begin(), v.end(), 0L); }

// counts: p entries, each whole units, summing to n, largest and smallest at most one unit apart.
void expect_near_equal_units(const std::vector<long>& counts, long n, int p, const std::string& what) {
  ASSERT_EQ(static_cast<int>(counts.size()), p) << what;
  EXPECT_EQ(sum(counts), n) << what;
  for (long c : counts) {
    EXPECT_GE(c, 0) << what;
    EXPECT_EQ(c % kUnit, 0) << what << ": a part of " << c << " elements is not whole 32-element units";
  }
  const auto [mn, mx] = std::minmax_element(counts.begin(), counts.end());
  EXPECT_LE(*mx - *mn, kUnit) << what << ": parts " << *mn << " .. " << *mx << " are not near-equal";
}

TEST(ZeroCounts, WholeUnitsSummingToTheRegionNearEqual) {
  for (long units : {0L, 1L, 2L, 3L, 7L, 8L, 9L, 100L, 1001L, 25800L})
    for (int p : {1, 2, 3, 4, 5, 7, 8, 16}) {
      const long n = units * kUnit;
      expect_near_equal_units(zero_counts(n, p), n, p, "n " + std::to_string(n) + " p " + std::to_string(p));
    }
}

TEST(ZeroCounts, FewerUnitsThanRanksLeavesSomeRanksEmpty) {
  const std::vector<long> c = zero_counts(3 * kUnit, 8);
  expect_near_equal_units(c, 3 * kUnit, 8, "3 units over 8");
  EXPECT_EQ(std::count(c.begin(), c.end(), kUnit), 3);
  EXPECT_EQ(std::count(c.begin(), c.end(), 0L), 5);
}

TEST(ZeroCounts, OneRankTakesEverything) {
  EXPECT_EQ(zero_counts(826112, 1), std::vector<long>{826112});
}

// Not reached by the model (every tensor is whole units), but the partition still covers the region.
TEST(ZeroCounts, APartialTrailingUnitStillSumsToN) {
  for (long n : {1L, 31L, 33L, 100L, 1000L})
    for (int p : {1, 2, 3, 4}) {
      const std::vector<long> c = zero_counts(n, p);
      ASSERT_EQ(static_cast<int>(c.size()), p);
      EXPECT_EQ(sum(c), n) << "n " << n << " p " << p;
      for (int r = 0; r + 1 < p; ++r) EXPECT_EQ(c[r] % kUnit, 0) << "n " << n << " p " << p << " rank " << r;
    }
}

ModelConfig model(long L, long C, long H, long T, long V) {
  ModelConfig m;
  m.L = L;
  m.C = C;
  m.H = H;
  m.T = T;
  m.V = V;
  return m;
}

// Every (tp rank, stage) of a few layouts, every dp: two regions, [0, W) = this rank's wte rows (0 where
// the stage holds no wte) and [W, total), each partitioned by zero_counts, the shards of the DP ranks
// tiling each region in rank order; the first and the last stage cut wte the same way.
TEST(ZeroRegions, TwoRegionsWteThenTheRestEachTiledByTheDpShards) {
  for (const ModelConfig& m : {model(4, 128, 4, 64, 256), model(2, 64, 2, 16, 200), model(4, 96, 3, 32, 300)})
    for (int tp : {1, 2, 4}) {
      if (m.H % tp || m.C % (kUnit * tp)) continue;
      for (int pp : {1, 2, 4}) {
        if (m.L % pp) continue;
        const ParamLayout full(m);
        for (int dp : {1, 2, 3, 4, 8}) {
          std::vector<long> wte_counts_first;
          for (int stage = 0; stage < pp; ++stage)
            for (int tp_rank = 0; tp_rank < tp; ++tp_rank) {
              StageSpec spec;
              spec.tp = tp;
              spec.tp_rank = tp_rank;
              spec.pp = pp;
              spec.stage = stage;
              spec.layer_lo = stage * (m.L / pp);
              spec.layer_hi = (stage + 1) * (m.L / pp);
              const LocalLayout lay(full, spec);
              const bool holds_wte = spec.first() || spec.last();
              const long W = holds_wte ? m.Vp() / tp * m.C : 0;
              const std::string what = "C" + std::to_string(m.C) + " V" + std::to_string(m.V) + " tp " +
                                       std::to_string(tp) + "." + std::to_string(tp_rank) + " pp " +
                                       std::to_string(pp) + "." + std::to_string(stage) + " dp " + std::to_string(dp);
              std::vector<long> shard_lo[2];
              for (int r = 0; r < dp; ++r) {
                const std::vector<ZeroRegion> z = zero_regions(lay, dp, r);
                ASSERT_EQ(z.size(), 2u) << what;
                EXPECT_EQ(z[0].region.lo, 0) << what;
                EXPECT_EQ(z[0].region.hi, W) << what << ": the first region is not this rank's wte";
                EXPECT_EQ(z[1].region.lo, W) << what;
                EXPECT_EQ(z[1].region.hi, lay.total()) << what;
                for (int k = 0; k < 2; ++k) {
                  EXPECT_EQ(z[k].counts, zero_counts(z[k].region.size(), dp)) << what << " region " << k;
                  expect_near_equal_units(z[k].counts, z[k].region.size(), dp, what + " region " + std::to_string(k));
                  shard_lo[k].push_back(z[k].shard_lo);
                  if (r == 0 && k == 0 && holds_wte) {
                    if (stage == 0) wte_counts_first = z[0].counts;
                    else EXPECT_EQ(z[0].counts, wte_counts_first) << what << ": the last stage cuts wte differently";
                  }
                }
                if (r == dp - 1)  // all shards seen: they tile each region in rank order
                  for (int k = 0; k < 2; ++k) {
                    long at = z[k].region.lo;
                    for (int q = 0; q < dp; ++q) {
                      EXPECT_EQ(shard_lo[k][q], at) << what << " region " << k << " rank " << q;
                      EXPECT_EQ((shard_lo[k][q] - z[k].region.lo) % kUnit, 0) << what;
                      at += z[k].counts[q];
                    }
                    EXPECT_EQ(at, z[k].region.hi) << what << " region " << k;
                  }
              }
            }
        }
      }
    }
}

// The wte region is whole units and so is every tensor, so no shard boundary of either region falls
// inside a 32-element unit of a tensor: checked against the local tensors' offsets.
TEST(ZeroRegions, ShardBoundariesNeverSplitAUnitOfATensor) {
  const ModelConfig m = model(4, 128, 4, 64, 256);
  const ParamLayout full(m);
  StageSpec spec;
  spec.layer_hi = m.L;
  const LocalLayout lay(full, spec);
  for (const LocalTensor& t : lay.tensors()) {
    EXPECT_EQ(t.offset % kUnit, 0) << t.global->name;
    EXPECT_EQ(t.size % kUnit, 0) << t.global->name;
  }
  for (int dp : {2, 3, 4, 8})
    for (int r = 0; r < dp; ++r)
      for (const ZeroRegion& z : zero_regions(lay, dp, r)) {
        EXPECT_EQ(z.shard_lo % kUnit, 0) << "dp " << dp << " rank " << r;
        EXPECT_EQ((z.shard_lo + z.counts[r]) % kUnit, 0) << "dp " << dp << " rank " << r;
      }
}

}  // namespace
}  // namespace parity
