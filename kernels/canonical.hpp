// The canonical reduction order of exact mode (docs/design.md, "The canonical order, rule by rule").
//
// A long sum over n terms is cut into blocks of kBlock consecutive terms. Inside a block the terms are
// added sequentially, starting from +0 (a dot product uses fma). The block results are combined with
// the pairwise tree: split the leaves at ceil(n/2), sum each half the same way, then left + right.
// When 2^j divides the number of leaves, the tree's level j is the split into 2^j equal contiguous
// parts: a rank that owns one such part computes a subtree, and combining the ranks' subtrees with the
// same tree gives the unsplit result bit for bit.
//
// Everything here is header-only and inline so that kernels can use it in their inner loops.
#pragma once
#include <cmath>
#include <algorithm>
#include <cstdint>
#include <vector>

namespace parity {

constexpr int kBlock = 32;

inline long num_blocks(long n) { return (n + kBlock - 1) / kBlock; }

// Pairwise tree over leaves [lo, lo+n) in index order; leaf(i) gives leaf i. n >= 1.
template <class Leaf>
inline float tree_reduce(long lo, long n, const Leaf& leaf) {
  if (n == 1) return leaf(lo);
  const long left = (n + 1) / 2;
  const float a = tree_reduce(lo, left, leaf);
  const float b = tree_reduce(lo + left, n - left, leaf);
  return a + b;
}

inline float tree_reduce(const float* leaves, long n) {
  if (n <= 0) return 0.0f;
  return tree_reduce(0, n, [leaves](long i) { return leaves[i]; });
}

// Post-order form of the same tree, for streaming evaluation: after leaf i has been pushed, pop and add
// merges[i] times (stack top is the left operand). Lets a kernel keep only a stack of partial results
// (depth <= log2(n) + 1) instead of all n leaves. Same bits as tree_reduce.
inline void tree_merge_counts(long n, std::vector<uint8_t>& merges) {
  merges.assign(n > 0 ? n : 0, 0);
  struct Rec {
    static void go(long lo, long n, std::vector<uint8_t>& m) {
      if (n == 1) return;
      const long left = (n + 1) / 2;
      go(lo, left, m);
      go(lo + left, n - left, m);
      m[lo + n - 1] += 1;  // this node completes when its last leaf has been merged in
    }
  };
  if (n > 0) Rec::go(0, n, merges);
}

// Streaming evaluator over scalar leaves (used by reductions that produce leaves one at a time).
class TreeAccumulator {
 public:
  explicit TreeAccumulator(long n) { tree_merge_counts(n, merges_); stack_.reserve(64); }
  void push(float leaf) {
    float acc = leaf;
    for (int k = 0; k < merges_[next_]; ++k) { acc = stack_.back() + acc; stack_.pop_back(); }
    stack_.push_back(acc);
    ++next_;
  }
  float result() const { return stack_.empty() ? 0.0f : stack_.back(); }
 private:
  std::vector<uint8_t> merges_;
  std::vector<float> stack_;
  long next_ = 0;
};

// Sequential sum of one block (at most kBlock terms), from +0.
inline float block_sum(const float* x, long n, long stride = 1) {
  float s = 0.0f;
  for (long i = 0; i < n; ++i) s = s + x[i * stride];
  return s;
}

inline float block_dot(const float* x, const float* y, long n, long sx = 1, long sy = 1) {
  float s = 0.0f;
  for (long i = 0; i < n; ++i) s = std::fma(x[i * sx], y[i * sy], s);
  return s;
}

// Canonical sum of x[0], x[stride], ..., x[(n-1)*stride].
inline float canonical_sum(const float* x, long n, long stride = 1) {
  const long nb = num_blocks(n);
  if (nb <= 1) return block_sum(x, n, stride);
  return tree_reduce(0, nb, [=](long b) {
    const long lo = b * kBlock;
    const long len = (lo + kBlock <= n) ? kBlock : n - lo;
    return block_sum(x + lo * stride, len, stride);
  });
}

// Canonical dot product; the sum of squares of x is canonical_dot(x, x, n).
inline float canonical_dot(const float* x, const float* y, long n, long sx = 1, long sy = 1) {
  const long nb = num_blocks(n);
  if (nb <= 1) return block_dot(x, y, n, sx, sy);
  return tree_reduce(0, nb, [=](long b) {
    const long lo = b * kBlock;
    const long len = (lo + kBlock <= n) ? kBlock : n - lo;
    return block_dot(x + lo * sx, y + lo * sy, len, sx, sy);
  });
}

// Canonical sum of f(i) for i in [0, n): for sums whose terms are computed on the fly.
template <class F>
inline float canonical_sum_of(long n, const F& f) {
  auto block = [&](long lo, long len) {
    float s = 0.0f;
    for (long i = 0; i < len; ++i) s = s + f(lo + i);
    return s;
  };
  const long nb = num_blocks(n);
  if (nb <= 1) return block(0, n);
  return tree_reduce(0, nb, [&](long b) {
    const long lo = b * kBlock;
    return block(lo, (lo + kBlock <= n) ? kBlock : n - lo);
  });
}

// Pairwise tree over n leaf vectors stored contiguously (leaf i at leaves + i*width), in place: the
// result is left in leaf 0. Same bits as tree_reduce applied to each component.
inline void tree_reduce_inplace(float* leaves, long n, long width) {
  if (n <= 1) return;
  const long left = (n + 1) / 2;
  tree_reduce_inplace(leaves, left, width);
  tree_reduce_inplace(leaves + left * width, n - left, width);
  float* l = leaves;
  const float* r = leaves + left * width;
  for (long i = 0; i < width; ++i) l[i] = l[i] + r[i];
}

// The elementwise operations of VecTree on host vectors. (kernels/device.hpp has the device-or-host ones.)
struct HostVecOps {
  static void copy(float* dst, const float* src, long n) { for (long i = 0; i < n; ++i) dst[i] = src[i]; }
  static void add_into(float* l, const float* r, long n) { for (long i = 0; i < n; ++i) l[i] = l[i] + r[i]; }
};

// Streaming pairwise tree over leaves that are vectors of `width` floats (elementwise). Used for sums over
// rows (bias and layernorm weight gradients: one leaf per 32-row block) and over micro-batches (one leaf
// per micro-batch gradient). leaf() hands out the buffer to fill; push() merges it into the tree.
// Vec is the buffer type and Ops its elementwise copy and add (left + right), so that the trainer can keep
// the tree in device memory (UVecTree, kernels/device.hpp).
template <class Vec, class Ops>
class VecTreeT {
 public:
  VecTreeT(long leaves, long width) : width_(width) {
    tree_merge_counts(leaves, merges_);
    int depth = 2;
    for (long n = leaves; n > 1; n = (n + 1) / 2) ++depth;
    pool_.assign(depth, Vec(width));
    reset();
  }
  // Start a new tree over the same number of leaves, keeping the buffers.
  void reset() {
    free_.clear();
    stack_.clear();
    for (int i = static_cast<int>(pool_.size()) - 1; i >= 0; --i) free_.push_back(i);
    next_ = 0;
    cur_ = take();
  }
  float* leaf() { return pool_[cur_].data(); }
  void push() {
    int acc = cur_;
    for (int k = 0; k < merges_[next_]; ++k) {
      const int top = stack_.back();
      stack_.pop_back();
      Ops::add_into(pool_[top].data(), pool_[acc].data(), width_);  // left + right
      free_.push_back(acc);
      acc = top;
    }
    stack_.push_back(acc);
    ++next_;
    if (next_ < static_cast<long>(merges_.size())) cur_ = take();
  }
  // For the last leaf only: the tree's final value on [lo, hi), written to out[lo, hi), as soon as that part
  // of the leaf is final (lets a caller start reducing one bucket while the rest of the leaf is computed).
  // The same additions in the same order as push(); call it for disjoint ranges covering the leaf instead of
  // push(). result() is then not available.
  void finish_range(long lo, long hi, float* out) const {
    Ops::copy(out + lo, pool_[cur_].data() + lo, hi - lo);
    const long depth = static_cast<long>(stack_.size());
    for (long k = 0; k < merges_[next_]; ++k)  // out = left + out: IEEE addition commutes, bit for bit
      Ops::add_into(out + lo, pool_[stack_[depth - 1 - k]].data() + lo, hi - lo);
  }
  bool at_last_leaf() const { return next_ + 1 == static_cast<long>(merges_.size()); }
  const float* result() const { return pool_[stack_.back()].data(); }

 private:
  int take() { const int i = free_.back(); free_.pop_back(); return i; }
  long width_;
  std::vector<uint8_t> merges_;
  std::vector<Vec> pool_;
  std::vector<int> free_, stack_;
  int cur_ = 0;
  long next_ = 0;
};

using VecTree = VecTreeT<std::vector<float>, HostVecOps>;

// out[c] = canonical sum over rows r in [0, rows) of f(r, c), for c in [0, width).
// Rows are the reduced index: blocks of kBlock rows summed sequentially, blocks combined by the tree.
template <class F>
inline void column_sums_of(long rows, long width, float* out, const F& f) {
  const long nb = num_blocks(rows);
  auto block = [&](long b, float* leaf) {
    for (long c = 0; c < width; ++c) leaf[c] = 0.0f;
    const long hi = std::min(rows, (b + 1) * kBlock);
    for (long r = b * kBlock; r < hi; ++r)
      for (long c = 0; c < width; ++c) leaf[c] = leaf[c] + f(r, c);
  };
  if (nb <= 1) { block(0, out); return; }
  VecTree tree(nb, width);
  for (long b = 0; b < nb; ++b) { block(b, tree.leaf()); tree.push(); }
  const float* res = tree.result();
  for (long c = 0; c < width; ++c) out[c] = res[c];
}

inline void column_sums(const float* x, long rows, long width, long ld, float* out) {
  column_sums_of(rows, width, out, [=](long r, long c) { return x[r * ld + c]; });
}

}  // namespace parity
