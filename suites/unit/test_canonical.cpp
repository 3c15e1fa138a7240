// The canonical reduction order (kernels/canonical.hpp; docs/design.md, "The canonical order, rule by rule"):
//   - tree_reduce has exactly the documented shape (split at ceil(n/2), left + right);
//   - the streaming forms (tree_merge_counts, TreeAccumulator, VecTree, tree_reduce_inplace) give the same bits;
//   - the split property that data/tensor parallelism rely on: cutting a reduction into 2^j equal contiguous
//     parts, reducing each part and combining the parts with the tree over parts gives the unsplit bits.
// Inputs have mixed magnitudes so that a different association gives different bits; every test that claims
// "same bits" also shows that a plausible wrong order differs on the same kind of data, so it can fail.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "kernels/canonical.hpp"

namespace parity {
namespace {

uint32_t bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}

// Random floats spanning 2^-12 .. 2^12 with random signs: sums of these depend on the association.
std::vector<float> mixed(long n, uint32_t seed, int emin = -12, int emax = 12) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> mant(1.0f, 2.0f);
  std::uniform_int_distribution<int> expo(emin, emax);
  std::bernoulli_distribution neg(0.5);
  std::vector<float> v(n);
  for (float& x : v) x = (neg(gen) ? -1.0f : 1.0f) * std::ldexp(mant(gen), expo(gen));
  return v;
}

float sequential(const float* x, long n) {
  float s = 0.0f;
  for (long i = 0; i < n; ++i) s = s + x[i];
  return s;
}

// The "other" pairwise tree: split at floor(n/2). Differs from the canonical tree for odd n >= 3.
float floor_tree(const float* x, long n) {
  if (n == 1) return x[0];
  const long left = n / 2;
  return floor_tree(x, left) + floor_tree(x + left, n - left);
}

// ---------------------------------------------------------------------------------------------------------
// tree_reduce structure

using Expr = std::function<float(const float*)>;

// The tree for n = 1..9 leaves, written out by hand from the rule "split at ceil(n/2), left + right".
const std::vector<Expr>& hand_trees() {
  static const std::vector<Expr> trees = {
      [](const float* l) { return l[0]; },
      [](const float* l) { return l[0] + l[1]; },
      [](const float* l) { return (l[0] + l[1]) + l[2]; },
      [](const float* l) { return (l[0] + l[1]) + (l[2] + l[3]); },
      [](const float* l) { return ((l[0] + l[1]) + l[2]) + (l[3] + l[4]); },
      [](const float* l) { return ((l[0] + l[1]) + l[2]) + ((l[3] + l[4]) + l[5]); },
      [](const float* l) { return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + l[6]); },
      [](const float* l) { return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7])); },
      [](const float* l) {
        return (((l[0] + l[1]) + l[2]) + (l[3] + l[4])) + ((l[5] + l[6]) + (l[7] + l[8]));
      },
  };
  return trees;
}

TEST(Canonical, TreeReduceMatchesHandWrittenTrees) {
  const auto& trees = hand_trees();
  for (long n = 1; n <= 9; ++n) {
    bool seq_differs = false, floor_differs = false;
    for (uint32_t seed = 0; seed < 400; ++seed) {
      const std::vector<float> l = mixed(n, 1000 * n + seed);
      const float want = trees[n - 1](l.data());
      ASSERT_EQ(bits(tree_reduce(l.data(), n)), bits(want)) << "n=" << n << " seed=" << seed;
      ASSERT_EQ(bits(tree_reduce(0, n, [&](long i) { return l[i]; })), bits(want)) << "n=" << n;
      // A leaf function is called with absolute indices starting at lo.
      ASSERT_EQ(bits(tree_reduce(7, n, [&](long i) { return l[i - 7]; })), bits(want)) << "n=" << n;
      seq_differs |= bits(sequential(l.data(), n)) != bits(want);
      floor_differs |= bits(floor_tree(l.data(), n)) != bits(want);
    }
    // The data distinguishes the canonical tree from the other candidate orders.
    if (n >= 4) {
      EXPECT_TRUE(seq_differs) << "n=" << n;
    }
    if (n >= 3 && n % 2 == 1) {
      EXPECT_TRUE(floor_differs) << "n=" << n;
    }
  }
}

TEST(Canonical, TreeReduceEdgeCases) {
  EXPECT_EQ(bits(tree_reduce(nullptr, 0)), bits(0.0f));
  const float one = 3.5f;
  EXPECT_EQ(bits(tree_reduce(&one, 1)), bits(one));
  const float negzero = -0.0f;  // a single leaf is returned as is, sign of zero included
  EXPECT_EQ(bits(tree_reduce(&negzero, 1)), bits(-0.0f));
}

// ---------------------------------------------------------------------------------------------------------
// Streaming forms give tree_reduce's bits

float eval_merge_counts(const float* l, long n) {
  std::vector<uint8_t> merges;
  tree_merge_counts(n, merges);
  EXPECT_EQ(static_cast<long>(merges.size()), n);
  std::vector<float> stack;
  long total = 0;
  for (long i = 0; i < n; ++i) {
    float acc = l[i];
    for (int k = 0; k < merges[i]; ++k) {
      acc = stack.back() + acc;
      stack.pop_back();
    }
    total += merges[i];
    stack.push_back(acc);
  }
  EXPECT_EQ(total, n - 1) << "a binary tree over n leaves has n - 1 additions";
  EXPECT_EQ(stack.size(), 1u);
  return stack.back();
}

TEST(Canonical, MergeCountsAccumulatorAndVecTreeMatchTreeReduce) {
  constexpr long kWidth = 5;
  bool seq_differs = false;
  for (long n = 1; n <= 70; ++n) {
    VecTree vt(n, kWidth);
    for (uint32_t seed = 0; seed < 8; ++seed) {
      const std::vector<float> l = mixed(n, 77 * n + seed);
      const float want = tree_reduce(l.data(), n);
      seq_differs |= bits(sequential(l.data(), n)) != bits(want);

      ASSERT_EQ(bits(eval_merge_counts(l.data(), n)), bits(want)) << "merge counts n=" << n;

      TreeAccumulator acc(n);
      for (long i = 0; i < n; ++i) acc.push(l[i]);
      ASSERT_EQ(bits(acc.result()), bits(want)) << "TreeAccumulator n=" << n;

      // Vector leaves: component c of leaf i is its own random sequence; reuse the same VecTree (reset).
      const std::vector<float> vl = mixed(n * kWidth, 991 * n + seed);
      if (seed > 0) vt.reset();
      for (long i = 0; i < n; ++i) {
        float* leaf = vt.leaf();
        for (long c = 0; c < kWidth; ++c) leaf[c] = vl[i * kWidth + c];
        vt.push();
      }
      for (long c = 0; c < kWidth; ++c) {
        const float wc = tree_reduce(0, n, [&](long i) { return vl[i * kWidth + c]; });
        ASSERT_EQ(bits(vt.result()[c]), bits(wc)) << "VecTree n=" << n << " c=" << c;
      }
    }
  }
  EXPECT_TRUE(seq_differs) << "the data must tell the tree from a sequential sum";
  TreeAccumulator empty(0);
  EXPECT_EQ(bits(empty.result()), bits(0.0f));
}

TEST(Canonical, TreeReduceInplaceIsComponentwiseTreeReduce) {
  constexpr long kWidth = 3;
  for (long n = 1; n <= 70; ++n) {
    const std::vector<float> l = mixed(n * kWidth, 31 * n);
    std::vector<float> work = l;
    tree_reduce_inplace(work.data(), n, kWidth);
    for (long c = 0; c < kWidth; ++c) {
      const float want = tree_reduce(0, n, [&](long i) { return l[i * kWidth + c]; });
      ASSERT_EQ(bits(work[c]), bits(want)) << "n=" << n << " c=" << c;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// The blocked sums are the documented composition of block sums and the tree

TEST(Canonical, BlockedSumsAreTreesOfSequentialBlocks) {
  for (long n : {1L, 5L, 31L, 32L, 33L, 64L, 95L, 100L, 257L, 1000L}) {
    const std::vector<float> x = mixed(n, 5 * n), y = mixed(n, 5 * n + 1);
    const long nb = num_blocks(n);
    std::vector<float> sums(nb), dots(nb);
    for (long b = 0; b < nb; ++b) {
      const long lo = b * kBlock, len = std::min<long>(kBlock, n - lo);
      float s = 0.0f, d = 0.0f;
      for (long i = lo; i < lo + len; ++i) {
        s = s + x[i];
        d = std::fma(x[i], y[i], d);
      }
      sums[b] = s;
      dots[b] = d;
    }
    EXPECT_EQ(bits(canonical_sum(x.data(), n)), bits(tree_reduce(sums.data(), nb))) << "n=" << n;
    EXPECT_EQ(bits(canonical_dot(x.data(), y.data(), n)), bits(tree_reduce(dots.data(), nb))) << "n=" << n;
    EXPECT_EQ(bits(canonical_sum_of(n, [&](long i) { return x[i]; })), bits(canonical_sum(x.data(), n)));
    // Strided access reads the same elements.
    std::vector<float> xs(3 * n, 1e30f);
    for (long i = 0; i < n; ++i) xs[3 * i] = x[i];
    EXPECT_EQ(bits(canonical_sum(xs.data(), n, 3)), bits(canonical_sum(x.data(), n)));
  }
  EXPECT_EQ(bits(canonical_sum(nullptr, 0)), bits(0.0f));
}

TEST(Canonical, ColumnSumsAreCanonicalSumsOverRows) {
  for (long rows : {1L, 31L, 32L, 33L, 96L, 161L}) {
    const long width = 7, ld = 9;
    const std::vector<float> x = mixed(rows * ld, 13 * rows);
    std::vector<float> out(width, std::nanf(""));
    column_sums(x.data(), rows, width, ld, out.data());
    for (long c = 0; c < width; ++c)
      EXPECT_EQ(bits(out[c]), bits(canonical_sum(x.data() + c, rows, ld))) << "rows=" << rows << " c=" << c;
  }
}

// ---------------------------------------------------------------------------------------------------------
// The split property (what DP/TP rely on): 2^j equal contiguous parts, each a whole number of blocks,
// reduced separately and combined with tree_reduce over the parts, equal the unsplit reduction bit for bit.

struct SplitCase {
  int j;   // 2^j parts
  long q;  // blocks per part
};

std::vector<SplitCase> split_cases() {
  std::vector<SplitCase> cases;
  for (int j = 1; j <= 3; ++j)
    for (long q : {1L, 2L, 3L, 5L}) cases.push_back({j, q});
  return cases;
}

// The vocabulary sum (softmax denominator): canonical_sum over Vp = 32 * 2^j * q.
TEST(Canonical, SplitVocabularySumEqualsUnsplit) {
  for (const SplitCase& sc : split_cases()) {
    const long parts = 1L << sc.j, Vp = kBlock * parts * sc.q, part = Vp / parts;
    bool seq_combine_differs = false;
    for (uint32_t seed = 0; seed < 20; ++seed) {
      const std::vector<float> x = mixed(Vp, 4242 + 100 * Vp + seed);
      const float whole = canonical_sum(x.data(), Vp);
      std::vector<float> partial(parts);
      for (long p = 0; p < parts; ++p) partial[p] = canonical_sum(x.data() + p * part, part);
      ASSERT_EQ(bits(tree_reduce(partial.data(), parts)), bits(whole))
          << "Vp=" << Vp << " parts=" << parts << " seed=" << seed;
      seq_combine_differs |= bits(sequential(partial.data(), parts)) != bits(whole);
    }
    // Combining the parts in a different order (sequentially) is not the same computation.
    if (parts >= 4) {
      EXPECT_TRUE(seq_combine_differs) << "Vp=" << Vp << " parts=" << parts;
    }
  }
}

TEST(Canonical, SplitDotEqualsUnsplit) {
  for (const SplitCase& sc : split_cases()) {
    const long parts = 1L << sc.j, n = kBlock * parts * sc.q, part = n / parts;
    for (uint32_t seed = 0; seed < 20; ++seed) {
      const std::vector<float> x = mixed(n, 17 + n + seed), y = mixed(n, 9017 + n + seed);
      const float whole = canonical_dot(x.data(), y.data(), n);
      std::vector<float> partial(parts);
      for (long p = 0; p < parts; ++p)
        partial[p] = canonical_dot(x.data() + p * part, y.data() + p * part, part);
      ASSERT_EQ(bits(tree_reduce(partial.data(), parts)), bits(whole)) << "n=" << n << " parts=" << parts;
      // Strided form (a GEMM column): the same split works with strides.
      std::vector<float> xs(2 * n), ys(3 * n);
      for (long i = 0; i < n; ++i) {
        xs[2 * i] = x[i];
        ys[3 * i] = y[i];
      }
      for (long p = 0; p < parts; ++p)
        partial[p] = canonical_dot(xs.data() + 2 * p * part, ys.data() + 3 * p * part, part, 2, 3);
      ASSERT_EQ(bits(tree_reduce(partial.data(), parts)), bits(whole)) << "strided n=" << n;
    }
  }
}

// Row reduction (bias / layernorm / weight gradients over the rows of a micro-batch): column_sums over
// rows = 32 * 2^j * q, split into 2^j row ranges.
TEST(Canonical, SplitRowReductionEqualsUnsplit) {
  constexpr long kWidth = 6;
  for (const SplitCase& sc : split_cases()) {
    const long parts = 1L << sc.j, rows = kBlock * parts * sc.q, part = rows / parts;
    const std::vector<float> x = mixed(rows * kWidth, 555 + rows + sc.j);
    std::vector<float> whole(kWidth);
    column_sums(x.data(), rows, kWidth, kWidth, whole.data());
    // Leaf p holds part p's column sums; combine with the tree over parts (both scalar and in place).
    std::vector<float> leaves(parts * kWidth);
    for (long p = 0; p < parts; ++p)
      column_sums(x.data() + p * part * kWidth, part, kWidth, kWidth, leaves.data() + p * kWidth);
    for (long c = 0; c < kWidth; ++c) {
      const float combined = tree_reduce(0, parts, [&](long p) { return leaves[p * kWidth + c]; });
      EXPECT_EQ(bits(combined), bits(whole[c])) << "rows=" << rows << " parts=" << parts << " c=" << c;
    }
    tree_reduce_inplace(leaves.data(), parts, kWidth);
    for (long c = 0; c < kWidth; ++c) EXPECT_EQ(bits(leaves[c]), bits(whole[c])) << "inplace rows=" << rows;
  }
}

// Negative control: a split whose parts are not whole blocks, or an unequal split, is not a subtree.
// This shows the tests above would notice a kernel that cut the reduction anywhere else.
TEST(Canonical, SplitAtANonBlockBoundaryDiffers) {
  const long n = kBlock * 4;
  bool differs_offset = false, differs_unequal = false;
  for (uint32_t seed = 0; seed < 50; ++seed) {
    const std::vector<float> x = mixed(n, 8080 + seed);
    const float whole = canonical_sum(x.data(), n);
    // Two halves, but the cut is 16 elements off the block boundary.
    const float a = canonical_sum(x.data(), n / 2 + 16), b = canonical_sum(x.data() + n / 2 + 16, n / 2 - 16);
    differs_offset |= bits(a + b) != bits(whole);
    // Unequal whole-block split: 1 block + 3 blocks.
    const float c = canonical_sum(x.data(), kBlock), d = canonical_sum(x.data() + kBlock, 3 * kBlock);
    differs_unequal |= bits(c + d) != bits(whole);
  }
  EXPECT_TRUE(differs_offset);
  EXPECT_TRUE(differs_unequal);
}

}  // namespace
}  // namespace parity
