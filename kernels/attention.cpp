#include "kernels/attention.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/canonical.hpp"
#include "kernels/parallel.hpp"

namespace parity {

namespace {
// out[d] = canonical sum over t in [0, n) of w(t) * x(t)[d], d < hs, with blocks aligned at t = 0.
// Terms with w == 0 are skipped: they are exact zeros (leaves start at +0 and never become -0).
template <class W, class X>
void weighted_rows(float* out, long n, long hs, const W& w, const X& x, std::vector<float>& scratch) {
  const long nb = num_blocks(n);
  scratch.assign(nb * hs, 0.0f);
  for (long b = 0; b < nb; ++b) {
    float* leaf = scratch.data() + b * hs;
    const long hi = std::min(n, (b + 1) * kBlock);
    for (long t = b * kBlock; t < hi; ++t) {
      const float a = w(t);
      if (a == 0.0f) continue;
      const float* v = x(t);
      for (long d = 0; d < hs; ++d) leaf[d] = std::fma(a, v[d], leaf[d]);
    }
  }
  tree_reduce_inplace(scratch.data(), nb, hs);
  std::copy(scratch.begin(), scratch.begin() + hs, out);
}


// scores[t2] = canonical dot over d < hs of q[d] * Kt[d][t2], for t2 < n: the same per-lane order as
// canonical_dot (32-long fma chains over d, tree over the hs/32 blocks), vectorised over t2 instead of d.
// Kt is K transposed ([hs][T]); leaves is scratch of num_blocks(hs) * T floats.
void scores_row(float* scores, const float* q, const float* Kt, long T, long n, long hs, float* leaves) {
  const long nb = num_blocks(hs);
  for (long b = 0; b < nb; ++b) {
    float* leaf = leaves + b * n;
    for (long t2 = 0; t2 < n; ++t2) leaf[t2] = 0.0f;
    const long hi = std::min(hs, (b + 1) * kBlock);
    for (long d = b * kBlock; d < hi; ++d) {
      const float qd = q[d];
      const float* k = Kt + d * T;
      for (long t2 = 0; t2 < n; ++t2) leaf[t2] = std::fma(qd, k[t2], leaf[t2]);
    }
  }
  tree_reduce_inplace(leaves, nb, n);
  std::copy(leaves, leaves + n, scores);
}

// Kt[d][t] = x[t * stride + d] for one head's q, k or v (T rows, hs columns).
void transpose_head(float* Kt, const float* x, long T, long hs, long stride) {
  for (long t = 0; t < T; ++t)
    for (long d = 0; d < hs; ++d) Kt[d * T + t] = x[t * stride + d];
}
}  // namespace

void attention_forward(float* out, float* att, const float* qkv, long S, long T, long Hl, long hs) {
  const long C3 = Hl * 3 * hs, Cl = Hl * hs;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  parallel_units("attention_forward", S * Hl, [=](long u) {
    const long h = u % Hl, s = u / Hl;
    const float* base = qkv + s * T * C3 + h * 3 * hs;
    static thread_local std::vector<float> Kt, leaves, scratch;
    Kt.resize(hs * T);
    leaves.resize(num_blocks(hs) * T);
    transpose_head(Kt.data(), base + hs, T, hs, C3);
    for (long t = 0; t < T; ++t) {
      float* a = att + ((s * Hl + h) * T + t) * T;
      scores_row(a, base + t * C3, Kt.data(), T, t + 1, hs, leaves.data());
      float mx = -INFINITY;
      for (long t2 = 0; t2 <= t; ++t2) {
        a[t2] = a[t2] * scale;
        mx = std::max(mx, a[t2]);
      }
      for (long t2 = 0; t2 <= t; ++t2) a[t2] = std::exp(a[t2] - mx);
      const float inv = 1.0f / canonical_sum(a, t + 1);
      for (long t2 = 0; t2 <= t; ++t2) a[t2] = a[t2] * inv;
      for (long t2 = t + 1; t2 < T; ++t2) a[t2] = 0.0f;
      weighted_rows(out + (s * T + t) * Cl + h * hs, t + 1, hs, [a](long t2) { return a[t2]; },
                    [base, C3, hs](long t2) { return base + t2 * C3 + 2 * hs; }, scratch);
    }
  });
}

void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* att, long S, long T,
                        long Hl, long hs) {
  const long C3 = Hl * 3 * hs, Cl = Hl * hs;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  parallel_units("attention_backward", S * Hl, [=](long u) {
    const long h = u % Hl, s = u / Hl;
    const float* base = qkv + s * T * C3 + h * 3 * hs;
    float* dbase = dqkv + s * T * C3 + h * 3 * hs;
    const float* A = att + (s * Hl + h) * T * T;
    const float* dO = dout + s * T * Cl + h * hs;
    static thread_local std::vector<float> dpre, datt, scratch, Vt, leaves;
    dpre.assign(T * T, 0.0f);
    datt.resize(T);
    Vt.resize(hs * T);
    leaves.resize(num_blocks(hs) * T);
    transpose_head(Vt.data(), base + 2 * hs, T, hs, C3);
    // d(pre-softmax scores), scaled: dpre[t, t2] = att (datt - sum_t3 att datt) * scale, t2 <= t.
    for (long t = 0; t < T; ++t) {
      const float* a = A + t * T;
      scores_row(datt.data(), dO + t * Cl, Vt.data(), T, t + 1, hs, leaves.data());  // datt[t2] = dO[t] . v[t2]
      const float dot = canonical_dot(a, datt.data(), t + 1);
      float* dp = dpre.data() + t * T;
      for (long t2 = 0; t2 <= t; ++t2) dp[t2] = (a[t2] * (datt[t2] - dot)) * scale;
    }
    const float* P = dpre.data();
    for (long t = 0; t < T; ++t) {
      // dq[t] = sum over t2 <= t of dpre[t, t2] k[t2]
      weighted_rows(dbase + t * C3, t + 1, hs, [P, t, T](long t2) { return P[t * T + t2]; },
                    [base, C3, hs](long t2) { return base + t2 * C3 + hs; }, scratch);
      // dk[t] = sum over t' >= t of dpre[t', t] q[t'];  dv[t] = sum over t' >= t of att[t', t] dout[t']
      weighted_rows(dbase + t * C3 + hs, T, hs, [P, t, T](long t1) { return P[t1 * T + t]; },
                    [base, C3](long t1) { return base + t1 * C3; }, scratch);
      weighted_rows(dbase + t * C3 + 2 * hs, T, hs, [A, t, T](long t1) { return A[t1 * T + t]; },
                    [dO, Cl](long t1) { return dO + t1 * Cl; }, scratch);
    }
  });
}

}  // namespace parity
