// Causal attention as GEMMs on one (sequence, head) unit at a time.
//
// Every product below goes through gemm_strided, so exact mode inherits the canonical-order GEMM (and its
// speed) and fast mode calls BLAS. The canonical sums of the reference definition map onto it as follows:
//   scores[t, t2] = q[t]·k[t2], dots over hs              → one GEMM per row block, columns t2 < r1;
//   out[t] = Σ_{t2 ≤ t} att[t, t2] v[t2], t+1 terms       → rows with the same number of 32-blocks,
//            i.e. t ∈ [32(b−1), 32b), reduce over r < 32b: the extra terms are att = 0 (exact zeros), the
//            block structure and the tree over b blocks are those of the (t+1)-term sum;
//   dq alike; dk[t] = Σ_{t1} datt[t1, t] q[t1] and dv alike, over all T rows (zeros for t1 < t).
// A zero term adds ±0 to a partial sum that can only be ±0 if every earlier term was, so the result is the
// sum without it (the unit tests compare with the term-by-term canonical form).
//
// The device forms (kernel target device; both numerics) compute that term-by-term canonical form directly,
// one thread per output element (scores, dpre, out, dqkv) or per softmax row, so they give the host's exact
// bits. The backward pass keeps the whole dpre matrix [S, Hl, T, T] in unified scratch: dk and dv need every
// row of it.
#include "kernels/attention.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/canonical.hpp"
#include "kernels/device.hpp"
#include "kernels/gemm.hpp"
#include "kernels/parallel.hpp"
#include "kernels/vmath.hpp"

#if defined(PARITY_HAVE_CUDA)
#include "kernels/cuda/gemm_cublas.hpp"
#endif

namespace parity {

namespace {
// Rows per GEMM: exact mode needs 32 (see above); fast mode trades a little masked work for fewer calls.
long row_block(Numerics num) { return num == Numerics::exact ? kBlock : 64; }

// Softmax of row t of the causal score matrix in place: a[t2] for t2 <= t, zeros after.
void softmax_row(float* a, long t, long T, float scale) {
  float mx = -INFINITY;
  for (long t2 = 0; t2 <= t; ++t2) {
    a[t2] = a[t2] * scale;
    mx = std::max(mx, a[t2]);
  }
  vm::exp_shifted(a, a, mx, t + 1);
  const float inv = 1.0f / canonical_sum(a, t + 1);
  for (long t2 = 0; t2 <= t; ++t2) a[t2] = a[t2] * inv;
  std::fill(a + t + 1, a + T, 0.0f);
}
}  // namespace

namespace devk {

// M[s, h, t, t2] = canonical_dot(x row t, y row t2) over hs for t2 <= t, 0 after the diagonal. Row t of x for
// (s, h) starts at x + (s*T + t)*ldx + h*hsx, row t2 of y at y + (s*T + t2)*ldy + h*hsy.
void causal_dots_device(float* M, const float* x, long ldx, long hsx, const float* y, long ldy, long hsy, long S,
                        long T, long Hl, long hs) {
  device_for("parity::attention_dots_device", S * Hl * T * T, KOKKOS_LAMBDA(long i) {
    const long t2 = i % T, t = (i / T) % T, u = i / (T * T), h = u % Hl, s = u / Hl;
    M[i] = t2 <= t ? dev::canonical_dot(x + (s * T + t) * ldx + h * hsx, y + (s * T + t2) * ldy + h * hsy, hs)
                   : 0.0f;
  });
}

// softmax_row on every row of att (scores in, probabilities out; the zeros past the diagonal stay, or are
// written when zero_tail: the fast path's scores GEMM fills the whole row).
void softmax_rows_device(float* att, long rows, long T, float scale, bool zero_tail = false) {
  device_for("parity::attention_softmax_device", rows, KOKKOS_LAMBDA(long row) {
    const long t = row % T;
    float* a = att + row * T;
    float mx = -INFINITY;
    for (long t2 = 0; t2 <= t; ++t2) {
      a[t2] = a[t2] * scale;
      mx = dev::max(mx, a[t2]);
    }
    for (long t2 = 0; t2 <= t; ++t2) a[t2] = vm::exp(a[t2] - mx);
    const float inv = 1.0f / dev::canonical_sum(a, t + 1);
    for (long t2 = 0; t2 <= t; ++t2) a[t2] = a[t2] * inv;
    if (zero_tail)
      for (long t2 = t + 1; t2 < T; ++t2) a[t2] = 0.0f;
  });
}

// out[s, t, h, d] = canonical_dot over t2 <= t of att[s, h, t, t2] · v[s, t2, h, d].
void attention_out_device(float* out, const float* att, const float* qkv, long S, long T, long Hl, long hs) {
  const long C3 = Hl * 3 * hs, Cl = Hl * hs;
  device_for("parity::attention_out_device", S * T * Cl, KOKKOS_LAMBDA(long i) {
    const long d = i % hs, h = (i / hs) % Hl, t = (i / Cl) % T, s = i / (T * Cl);
    const float* a = att + ((s * Hl + h) * T + t) * T;
    const float* v = qkv + s * T * C3 + h * 3 * hs + 2 * hs + d;
    out[i] = dev::canonical_dot(a, v, t + 1, 1, C3);
  });
}

void attention_forward(float* out, float* att, const float* qkv, long S, long T, long Hl, long hs) {
  const long C3 = Hl * 3 * hs;
  const float scale = 1.0f / sqrtf(static_cast<float>(hs));
  causal_dots_device(att, qkv, C3, 3 * hs, qkv + hs, C3, 3 * hs, S, T, Hl, hs);  // q · k
  softmax_rows_device(att, S * Hl * T, T, scale);
  attention_out_device(out, att, qkv, S, T, Hl, hs);
}

// dpre[t, t2] = (att (datt − canonical_dot(att row, datt row, t+1))) · scale for t2 <= t, in place on datt.
void softmax_backward_rows_device(float* D, const float* att, long rows, long T, float scale,
                                  bool zero_tail = false) {
  device_for("parity::attention_dpre_device", rows, KOKKOS_LAMBDA(long row) {
    const long t = row % T;
    const float* a = att + row * T;
    float* d = D + row * T;
    const float dot = dev::canonical_dot(a, d, t + 1);
    for (long t2 = 0; t2 <= t; ++t2) d[t2] = (a[t2] * (d[t2] - dot)) * scale;
    if (zero_tail)
      for (long t2 = t + 1; t2 < T; ++t2) d[t2] = 0.0f;
  });
}

// dqkv[s, t, h, part, d]: part 0 dq = (t+1)-term dot of dpre row t and k column d; part 1 dk = T-term dot of
// dpre column t and q column d; part 2 dv = T-term dot of att column t and dO column d (zeros included).
void attention_dqkv_device(float* dqkv, const float* D, const float* att, const float* dout, const float* qkv,
                           long S, long T, long Hl, long hs) {
  const long C3 = Hl * 3 * hs, Cl = Hl * hs;
  device_for("parity::attention_dqkv_device", S * T * C3, KOKKOS_LAMBDA(long i) {
    const long d = i % hs, part = (i / hs) % 3, h = (i / (3 * hs)) % Hl, t = (i / C3) % T, s = i / (T * C3);
    const long u = s * Hl + h;
    const float* q = qkv + s * T * C3 + h * 3 * hs + d;  // column d of q; k at + hs, v at + 2 hs
    float r;
    if (part == 0) {
      r = dev::canonical_dot(D + (u * T + t) * T, q + hs, t + 1, 1, C3);
    } else if (part == 1) {
      r = dev::canonical_dot(D + u * T * T + t, q, T, T, C3);
    } else {
      r = dev::canonical_dot(att + u * T * T + t, dout + s * T * Cl + h * hs + d, T, T, Cl);
    }
    dqkv[i] = r;
  });
}

// The backward's d(pre-softmax scores) for every (sequence, head), in unified memory: one buffer for the
// exact and the fast path, grown as needed.
float* dpre_scratch(long n) {
  static uvector<float> buf;
  if (static_cast<long>(buf.size()) < n) buf.resize(static_cast<size_t>(n));
  return buf.data();
}

void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* att, long S, long T,
                        long Hl, long hs) {
  const long C3 = Hl * 3 * hs, Cl = Hl * hs;
  const float scale = 1.0f / sqrtf(static_cast<float>(hs));
  float* D = dpre_scratch(S * Hl * T * T);
  causal_dots_device(D, dout, Cl, hs, qkv + 2 * hs, C3, 3 * hs, S, T, Hl, hs);  // datt = dO · v
  softmax_backward_rows_device(D, att, S * Hl * T, T, scale);
  attention_dqkv_device(dqkv, D, att, dout, qkv, S, T, Hl, hs);
}

#if defined(PARITY_HAVE_CUDA)
cuda::CublasGemm& cublas();  // kernels/gemm.cpp
void cublas_sync();

// Fast numerics on the GPU: the products as cuBLAS strided-batched SGEMMs (fp32, no TF32), one call per
// sequence over its Hl heads, the softmax and its backward as above. Row-major [T, x] blocks with leading
// dimension ld are column-major [x, T] matrices for cuBLAS, so each product is computed transposed:
//   scores^T = K'^T·Q'  (Q' = Q^T, K' = K^T: hs x T, ld C3);  out^T = V'·att'  (att' = att^T: T x T, ld T)
//   datt^T = V'^T·dO';  dq^T = K'·dpre';  dk^T = Q'·dpre'^T;  dv^T = dO'·att'^T
void attention_forward_fast(float* out, float* att, const float* qkv, long S, long T, long Hl, long hs) {
  const long C3 = Hl * 3 * hs, Cl = Hl * hs;
  const float scale = 1.0f / sqrtf(static_cast<float>(hs));
  for (long s = 0; s < S; ++s) {
    const float* Q = qkv + s * T * C3;
    cublas().sgemm_batched(true, false, T, T, hs, Q + hs, C3, 3 * hs, Q, C3, 3 * hs, att + s * Hl * T * T, T, T * T, Hl);
  }
  cublas_sync();
  softmax_rows_device(att, S * Hl * T, T, scale, true);
  for (long s = 0; s < S; ++s) {
    const float* V = qkv + s * T * C3 + 2 * hs;
    cublas().sgemm_batched(false, false, hs, T, T, V, C3, 3 * hs, att + s * Hl * T * T, T, T * T, out + s * T * Cl, Cl,
                           hs, Hl);
  }
  cublas_sync();
}

void attention_backward_fast(float* dqkv, const float* dout, const float* qkv, const float* att, long S, long T,
                             long Hl, long hs) {
  const long C3 = Hl * 3 * hs, Cl = Hl * hs;
  const float scale = 1.0f / sqrtf(static_cast<float>(hs));
  float* D = dpre_scratch(S * Hl * T * T);
  for (long s = 0; s < S; ++s) {  // datt = dO · v^T
    cublas().sgemm_batched(true, false, T, T, hs, qkv + s * T * C3 + 2 * hs, C3, 3 * hs, dout + s * T * Cl, Cl, hs,
                           D + s * Hl * T * T, T, T * T, Hl);
  }
  cublas_sync();
  softmax_backward_rows_device(D, att, S * Hl * T, T, scale, true);
  for (long s = 0; s < S; ++s) {
    const float* Q = qkv + s * T * C3;
    float* dQ = dqkv + s * T * C3;
    const float* Ds = D + s * Hl * T * T;
    const float* As = att + s * Hl * T * T;
    cublas().sgemm_batched(false, false, hs, T, T, Q + hs, C3, 3 * hs, Ds, T, T * T, dQ, C3, 3 * hs, Hl);  // dq
    cublas().sgemm_batched(false, true, hs, T, T, Q, C3, 3 * hs, Ds, T, T * T, dQ + hs, C3, 3 * hs, Hl);   // dk
    cublas().sgemm_batched(false, true, hs, T, T, dout + s * T * Cl, Cl, hs, As, T, T * T, dQ + 2 * hs, C3, 3 * hs,
                           Hl);  // dv
  }
  cublas_sync();
}
#endif

}  // namespace devk

void attention_forward(float* out, float* att, const float* qkv, long S, long T, long Hl, long hs, Numerics num) {
  if (on_device()) {
#if defined(PARITY_HAVE_CUDA)
    if (num == Numerics::fast) {
      devk::attention_forward_fast(out, att, qkv, S, T, Hl, hs);
      return;
    }
#endif
    devk::attention_forward(out, att, qkv, S, T, Hl, hs);
    return;
  }
  const long C3 = Hl * 3 * hs, Cl = Hl * hs;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  const long rb = row_block(num);
  parallel_units("attention_forward", S * Hl, [=](long u) {
    const long h = u % Hl, s = u / Hl;
    const float* Q = qkv + s * T * C3 + h * 3 * hs;
    const float *K = Q + hs, *V = Q + 2 * hs;
    float* A = att + (s * Hl + h) * T * T;
    float* O = out + s * T * Cl + h * hs;
    for (long r0 = 0; r0 < T; r0 += rb) {
      const long r1 = std::min(T, r0 + rb), rows = r1 - r0;
      gemm_strided(num, {Q + r0 * C3, C3, 1}, {K, C3, 1}, A + r0 * T, T, rows, r1, hs);  // scores, t2 < r1
      for (long t = r0; t < r1; ++t) softmax_row(A + t * T, t, T, scale);
      gemm_strided(num, {A + r0 * T, T, 1}, {V, 1, C3}, O + r0 * Cl, Cl, rows, hs, r1);  // att · v
    }
  });
}

void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* att, long S, long T,
                        long Hl, long hs, Numerics num) {
  if (on_device()) {
#if defined(PARITY_HAVE_CUDA)
    if (num == Numerics::fast) {
      devk::attention_backward_fast(dqkv, dout, qkv, att, S, T, Hl, hs);
      return;
    }
#endif
    devk::attention_backward(dqkv, dout, qkv, att, S, T, Hl, hs);
    return;
  }
  const long C3 = Hl * 3 * hs, Cl = Hl * hs;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  const long rb = row_block(num);
  parallel_units("attention_backward", S * Hl, [=](long u) {
    const long h = u % Hl, s = u / Hl;
    const float* Q = qkv + s * T * C3 + h * 3 * hs;
    const float *K = Q + hs, *V = Q + 2 * hs;
    float* dQ = dqkv + s * T * C3 + h * 3 * hs;
    float *dK = dQ + hs, *dV = dQ + 2 * hs;
    const float* A = att + (s * Hl + h) * T * T;
    const float* dO = dout + s * T * Cl + h * hs;
    static thread_local std::vector<float> dpre;
    dpre.resize(T * T);  // every row is written below, zeros past the diagonal included
    float* D = dpre.data();
    for (long r0 = 0; r0 < T; r0 += rb) {
      const long r1 = std::min(T, r0 + rb), rows = r1 - r0;
      gemm_strided(num, {dO + r0 * Cl, Cl, 1}, {V, C3, 1}, D + r0 * T, T, rows, r1, hs);  // datt = dO · v
      // d(pre-softmax scores), scaled: dpre[t, t2] = att (datt − Σ_t3 att datt) · scale for t2 <= t.
      for (long t = r0; t < r1; ++t) {
        const float* a = A + t * T;
        float* d = D + t * T;
        const float dot = canonical_dot(a, d, t + 1);
        for (long t2 = 0; t2 <= t; ++t2) d[t2] = (a[t2] * (d[t2] - dot)) * scale;
        std::fill(d + t + 1, d + T, 0.0f);
      }
      gemm_strided(num, {D + r0 * T, T, 1}, {K, 1, C3}, dQ + r0 * C3, C3, rows, hs, r1);  // dq = dpre · k
    }
    if (num == Numerics::exact) {  // every t1 in canonical order, zeros included
      gemm_strided(num, {D, 1, T}, {Q, 1, C3}, dK, C3, T, hs, T);    // dk = dpreᵀ · q
      gemm_strided(num, {A, 1, T}, {dO, 1, Cl}, dV, C3, T, hs, T);   // dv = attᵀ · dO
      return;
    }
    for (long c0 = 0; c0 < T; c0 += rb) {  // fast: column block [c0, c1) needs rows t1 >= c0 only
      const long c1 = std::min(T, c0 + rb);
      gemm_strided(num, {D + c0 * T + c0, 1, T}, {Q + c0 * C3, 1, C3}, dK + c0 * C3, C3, c1 - c0, hs, T - c0);
      gemm_strided(num, {A + c0 * T + c0, 1, T}, {dO + c0 * Cl, 1, Cl}, dV + c0 * C3, C3, c1 - c0, hs, T - c0);
    }
  });
}

}  // namespace parity
