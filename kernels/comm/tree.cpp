// The local step of the exact all-reduce: the canonical pairwise tree over the p ranks' contributions,
// evaluated elementwise in tiles small enough that every intermediate stays in L1.
#include <algorithm>
#include <cstring>

#include "kernels/comm/detail.hpp"

namespace parity::comm_detail {

namespace {

constexpr long kTile = 2048;  // floats: 8 KiB per intermediate

inline void add(float* __restrict__ dst, const float* a, const float* b, long w) {
  for (long i = 0; i < w; ++i) dst[i] = a[i] + b[i];
}

struct TileTree {
  const float* const* leaves;
  long col, w;   // columns [col, col + w) of every leaf
  float* tmp;    // depth buffers of kTile floats each

  // Sum of leaves [lo, lo + n) into dst (or the leaf itself when n == 1); deeper right subtrees use the
  // buffers from `depth` on, so dst (a caller's buffer) is never overwritten before it is read.
  const float* eval(int lo, int n, float* dst, int depth) const {
    if (n == 1) return leaves[lo] + col;
    const int left = (n + 1) / 2;
    const float* a = eval(lo, left, dst, depth + 1);
    float* rbuf = tmp + long(depth) * kTile;
    const float* b = eval(lo + left, n - left, rbuf, depth + 1);
    if (a == dst)
      for (long i = 0; i < w; ++i) dst[i] = dst[i] + b[i];
    else
      add(dst, a, b, w);
    return dst;
  }
};

}  // namespace

void tree_sum_leaves(const float* const* leaves, int p, long width, float* out, std::vector<float>& tmp) {
  if (width <= 0) return;
  if (p == 1) {
    if (leaves[0] != out) std::memmove(out, leaves[0], sizeof(float) * width);
    return;
  }
  if (p == 2) {  // one add: out may alias either leaf, elementwise
    const float* a = leaves[0];
    const float* b = leaves[1];
    for (long i = 0; i < width; ++i) out[i] = a[i] + b[i];
    return;
  }
  int depth = 0;
  for (int n = p; n > 1; n = (n + 1) / 2) ++depth;
  const long need = long(depth + 3) * kTile;
  if (long(tmp.size()) < need) tmp.resize(need);
  float* top_left = tmp.data();
  float* top_right = tmp.data() + kTile;
  for (long col = 0; col < width; col += kTile) {
    const long w = std::min(kTile, width - col);
    TileTree t{leaves, col, w, tmp.data() + 2 * kTile};
    // The top node is evaluated into private buffers and written to out last, since out may alias a leaf
    // that a subtree still has to read.
    const int left = (p + 1) / 2;
    const float* a = t.eval(0, left, top_left, 0);
    const float* b = t.eval(left, p - left, top_right, 0);
    float* o = out + col;
    for (long i = 0; i < w; ++i) o[i] = a[i] + b[i];
  }
}

}  // namespace parity::comm_detail
