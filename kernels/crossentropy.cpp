#include "kernels/crossentropy.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/canonical.hpp"
#include "kernels/parallel.hpp"
#include "kernels/vmath.hpp"

namespace parity {

void crossentropy_forward(float* losses, float* logits, const int32_t* targets, long N, long Vl, long v_lo,
                          long V, const VocabReduce* reduce) {
  const long Vreal = std::clamp(V - v_lo, 0L, Vl);  // this rank's unpadded columns
  std::vector<float> mx(N), sum(N), tgt(N);
  float* mxp = mx.data();
  parallel_units("crossentropy_max", N, [=](long n) {
    const float* l = logits + n * Vl;
    float m = -INFINITY;
    for (long v = 0; v < Vreal; ++v) m = std::max(m, l[v]);
    mxp[n] = m;
  });
  if (reduce) reduce->max(mx.data(), N);
  float* sump = sum.data();
  float* tgtp = tgt.data();
  parallel_units("crossentropy_sumexp", N, [=](long n) {
    float* l = logits + n * Vl;
    const long t = targets[n] - v_lo;
    tgtp[n] = (t >= 0 && t < Vl) ? l[t] - mxp[n] : 0.0f;
    vm::exp_shifted(l, l, mxp[n], Vreal);
    for (long v = Vreal; v < Vl; ++v) l[v] = 0.0f;  // masked padding: exact zeros in the sum
    sump[n] = canonical_sum(l, Vl);
  });
  if (reduce) {
    reduce->tree_sum(sum.data(), N);
    reduce->tree_sum(tgt.data(), N);  // one nonzero term per row: exact
  }
  parallel_units("crossentropy_normalise", N, [=](long n) {
    float* l = logits + n * Vl;
    const float inv = 1.0f / sump[n];
    for (long v = 0; v < Vreal; ++v) l[v] = l[v] * inv;
    losses[n] = std::log(sump[n]) - tgtp[n];
  });
}

void crossentropy_backward(float* probs, const int32_t* targets, long N, long Vl, long v_lo, long V,
                           float dloss) {
  const long Vreal = std::clamp(V - v_lo, 0L, Vl);
  parallel_units("crossentropy_backward", N, [=](long n) {
    float* p = probs + n * Vl;
    const long t = targets[n] - v_lo;
    for (long v = 0; v < Vreal; ++v) p[v] = (p[v] - (v == t ? 1.0f : 0.0f)) * dloss;
    for (long v = Vreal; v < Vl; ++v) p[v] = 0.0f;
  });
}

}  // namespace parity
