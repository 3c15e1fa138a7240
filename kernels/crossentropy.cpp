#include "kernels/crossentropy.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/canonical.hpp"
#include "kernels/device.hpp"
#include "kernels/parallel.hpp"
#include "kernels/vmath.hpp"

namespace parity {

// Device forms (kernels/device.hpp): the host's three phases, with the VocabReduce callbacks (host code) on
// unified-memory row arrays between them. The row max and sum over the vocabulary two-phase (32-wide blocks of
// every row in parallel, then one thread per row); elementwise passes one thread per logit.
// The targets are unified memory, as every buffer a device form takes.
// The per-token loss is taken on the host with glibc's std::log, as the host form does (CUDA's logf may differ
// by an ulp).
namespace devk {

void crossentropy_forward(float* losses, float* logits, const int32_t* targets, long N, long Vl, long v_lo,
                          long V, const VocabReduce* reduce) {
  const long Vreal = std::clamp(V - v_lo, 0L, Vl);
  static uvector<float> mx_buf, sum_buf, tgt_buf;
  mx_buf.resize(N);
  sum_buf.resize(N);
  tgt_buf.resize(N);
  float* mx = mx_buf.data();
  float* sum = sum_buf.data();
  float* tgt = tgt_buf.data();
  row_max_2p(logits, N, Vreal, Vl, mx);  // two-phase: 32-wide blocks of every row in parallel
  if (reduce) reduce->max(mx, N);
  device_for("crossentropy_target", N, KOKKOS_LAMBDA(long n) {
    const long t = targets[n] - v_lo;
    tgt[n] = (t >= 0 && t < Vl) ? logits[n * Vl + t] - mx[n] : 0.0f;
  });
  device_for("crossentropy_exp", N * Vl, KOKKOS_LAMBDA(long i) {
    const long n = i / Vl, v = i % Vl;
    logits[i] = v < Vreal ? vm::exp(logits[i] - mx[n]) : 0.0f;  // masked padding: exact zeros in the sum
  });
  row_sums_2p(logits, N, Vl, Vl, sum);
  if (reduce) {
    reduce->tree_sum(sum, N);
    reduce->tree_sum(tgt, N);
  }
  device_for("crossentropy_normalise", N * Vl, KOKKOS_LAMBDA(long i) {
    const long n = i / Vl, v = i % Vl;
    if (v < Vreal) logits[i] = logits[i] * (1.0f / sum[n]);
  });
  // The loss on the host (N values, managed memory, read after the fence): std::log is glibc's on both
  // targets, where CUDA's logf could differ by an ulp — so the GPU's losses are the CPU's bits too.
  for (long n = 0; n < N; ++n) losses[n] = std::log(sum[n]) - tgt[n];
}

void crossentropy_backward(float* probs, const int32_t* targets, long N, long Vl, long v_lo, long V,
                           float dloss) {
  const long Vreal = std::clamp(V - v_lo, 0L, Vl);
  device_for("crossentropy_backward", N * Vl, KOKKOS_LAMBDA(long i) {
    const long n = i / Vl, v = i % Vl;
    const long t = targets[n] - v_lo;
    probs[i] = v < Vreal ? (probs[i] - (v == t ? 1.0f : 0.0f)) * dloss : 0.0f;
  });
}

}  // namespace devk

void crossentropy_forward(float* losses, float* logits, const int32_t* targets, long N, long Vl, long v_lo,
                          long V, const VocabReduce* reduce) {
  if (on_device()) {
    devk::crossentropy_forward(losses, logits, targets, N, Vl, v_lo, V, reduce);
    return;
  }
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
  if (on_device()) {
    devk::crossentropy_backward(probs, targets, N, Vl, v_lo, V, dloss);
    return;
  }
  const long Vreal = std::clamp(V - v_lo, 0L, Vl);
  parallel_units("crossentropy_backward", N, [=](long n) {
    float* p = probs + n * Vl;
    const long t = targets[n] - v_lo;
    for (long v = 0; v < Vreal; ++v) p[v] = (p[v] - (v == t ? 1.0f : 0.0f)) * dloss;
    for (long v = Vreal; v < Vl; ++v) p[v] = 0.0f;
  });
}

}  // namespace parity
