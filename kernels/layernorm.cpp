#include "kernels/layernorm.hpp"

#include <cmath>
#include <vector>

#include "kernels/canonical.hpp"
#include "kernels/device.hpp"
#include "kernels/parallel.hpp"

namespace parity {

// Device forms (kernels/device.hpp): the host forms' operations in the same order, one thread per row; the
// parameter gradients two-phase (row blocks in parallel, then the tree per channel); canonical sums through
// parity::dev.
namespace devk {

// canonical_dot of f(i) and g(i), i in [0, n), for operands computed on the fly (as dev::canonical_dot).
template <class F, class G>
KOKKOS_INLINE_FUNCTION float canonical_dot_of(long n, const F& f, const G& g) {
  const long nb = (n + dev::kBlk - 1) / dev::kBlk;
  if (nb <= 1) {
    float s = 0.0f;
    for (long i = 0; i < n; ++i) s = fmaf(f(i), g(i), s);
    return s;
  }
  dev::TreeStack tree(nb);
  for (long b = 0; b < nb; ++b) {
    const long hi = (b + 1) * dev::kBlk < n ? (b + 1) * dev::kBlk : n;
    float s = 0.0f;
    for (long i = b * dev::kBlk; i < hi; ++i) s = fmaf(f(i), g(i), s);
    tree.push(s);
  }
  return tree.result();
}

// layernorm_row, with the output rounded per element (round_to on the row).
KOKKOS_INLINE_FUNCTION void layernorm_row(float* o, float* mean, float* rstd, const float* x, const float* weight,
                                          const float* bias, long C, Precision prec) {
  const float m = dev::canonical_sum(x, C) / static_cast<float>(C);
  const float var = dev::canonical_sum_of(C, [=](long c) {
                      const float d = x[c] - m;
                      return d * d;
                    }) / static_cast<float>(C);
  const float s = 1.0f / sqrtf(var + kLayerNormEps);
  for (long c = 0; c < C; ++c) o[c] = dev::round(prec, ((x[c] - m) * s) * weight[c] + bias[c]);
  *mean = m;
  *rstd = s;
}

void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                       const float* bias, long N, long C) {
  device_for("layernorm_forward", N, KOKKOS_LAMBDA(long n) {
    layernorm_row(out + n * C, mean + n, rstd + n, inp + n * C, weight, bias, C, Precision::fp32);
  });
}

void residual_layernorm_forward(float* out, float* mean, float* rstd, float* res, const float* x,
                                const float* res_bias, const float* weight, const float* bias, long N, long C,
                                Precision prec) {
  device_for("residual_layernorm_forward", N, KOKKOS_LAMBDA(long n) {
    float* r = res + n * C;
    const float* xr = x + n * C;
    if (prec == Precision::fp32) {
      for (long c = 0; c < C; ++c) r[c] = xr[c] + (r[c] + res_bias[c]);
    } else {
      for (long c = 0; c < C; ++c) r[c] = dev::round(prec, xr[c] + dev::round(prec, r[c] + res_bias[c]));
    }
    layernorm_row(out + n * C, mean + n, rstd + n, r, weight, bias, C, prec);
  });
}

void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, const float* mean, const float* rstd, long N, long C) {
  // Parameter gradients, two-phase (kernels/device.hpp): the 32-row blocks of every channel in parallel, then
  // the tree per channel.
  const long nb = (N + dev::kBlk - 1) / dev::kBlk;
  float* leaves = leaf_scratch(nb * C);
  device_for("layernorm_backward_dweight_blocks", nb * C, KOKKOS_LAMBDA(long i) {
    const long b = i / C, c = i % C, hi = (b + 1) * dev::kBlk < N ? (b + 1) * dev::kBlk : N;
    float s = 0.0f;
    for (long n = b * dev::kBlk; n < hi; ++n) s = s + dout[n * C + c] * ((inp[n * C + c] - mean[n]) * rstd[n]);
    leaves[i] = s;
  });
  tree_of_leaves(leaves, C, nb, 1, C, dweight);
  column_sums_2p(dout, N, C, C, dbias);
  device_for("layernorm_backward_dinp", N, KOKKOS_LAMBDA(long n) {
    const float* x = inp + n * C;
    const float* dy = dout + n * C;
    const float m = mean[n], s = rstd[n];
    const auto norm = [=](long c) { return (x[c] - m) * s; };
    const auto dnorm = [=](long c) { return dy[c] * weight[c]; };
    const float dnorm_mean = dev::canonical_sum_of(C, dnorm) / static_cast<float>(C);
    const float dnorm_norm_mean = canonical_dot_of(C, dnorm, norm) / static_cast<float>(C);
    float* dx = dinp + n * C;
    for (long c = 0; c < C; ++c) dx[c] = dx[c] + ((dnorm(c) - dnorm_mean) - norm(c) * dnorm_norm_mean) * s;
  });
}

}  // namespace devk

namespace {
// One row: o = LN(x), its mean and 1/std.
inline void layernorm_row(float* o, float& mean, float& rstd, const float* x, const float* weight,
                          const float* bias, long C) {
  const float m = canonical_sum(x, C) / static_cast<float>(C);
  const float var = canonical_sum_of(C, [&](long c) {
                      const float d = x[c] - m;
                      return d * d;
                    }) / static_cast<float>(C);
  const float s = 1.0f / std::sqrt(var + kLayerNormEps);
  for (long c = 0; c < C; ++c) o[c] = ((x[c] - m) * s) * weight[c] + bias[c];
  mean = m;
  rstd = s;
}
}  // namespace

void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                       const float* bias, long N, long C) {
  if (on_device()) {
    devk::layernorm_forward(out, mean, rstd, inp, weight, bias, N, C);
    return;
  }
  parallel_units("layernorm_forward", N, [=](long n) {
    layernorm_row(out + n * C, mean[n], rstd[n], inp + n * C, weight, bias, C);
  });
}

void residual_layernorm_forward(float* out, float* mean, float* rstd, float* res, const float* x,
                                const float* res_bias, const float* weight, const float* bias, long N, long C,
                                Precision prec) {
  if (on_device()) {
    devk::residual_layernorm_forward(out, mean, rstd, res, x, res_bias, weight, bias, N, C, prec);
    return;
  }
  parallel_units("residual_layernorm_forward", N, [=](long n) {
    float* r = res + n * C;
    const float* xr = x + n * C;
    if (prec == Precision::fp32) {  // no rounding in between: one loop
      for (long c = 0; c < C; ++c) r[c] = xr[c] + (r[c] + res_bias[c]);
    } else {
      for (long c = 0; c < C; ++c) r[c] = r[c] + res_bias[c];
      round_to(prec, r, C);
      for (long c = 0; c < C; ++c) r[c] = xr[c] + r[c];
      round_to(prec, r, C);
    }
    layernorm_row(out + n * C, mean[n], rstd[n], r, weight, bias, C);
    round_to(prec, out + n * C, C);
  });
}

void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, const float* mean, const float* rstd, long N, long C) {
  if (on_device()) {
    devk::layernorm_backward(dinp, dweight, dbias, dout, inp, weight, mean, rstd, N, C);
    return;
  }
  // Parameter gradients: reductions over rows.
  column_sums_of(N, C, dweight, [=](long n, long c) { return dout[n * C + c] * ((inp[n * C + c] - mean[n]) * rstd[n]); });
  column_sums(dout, N, C, C, dbias);
  // Input gradient (llm.c's formulation): dx = (dnorm - mean(dnorm) - norm * mean(dnorm * norm)) * rstd.
  parallel_units("layernorm_backward", N, [=](long n) {
    const float* x = inp + n * C;
    const float* dy = dout + n * C;
    const float m = mean[n], s = rstd[n];
    static thread_local std::vector<float> norm, dnorm;  // no allocation per row in steady state
    norm.resize(C);
    dnorm.resize(C);
    for (long c = 0; c < C; ++c) {
      norm[c] = (x[c] - m) * s;
      dnorm[c] = dy[c] * weight[c];
    }
    const float dnorm_mean = canonical_sum(dnorm.data(), C) / static_cast<float>(C);
    const float dnorm_norm_mean = canonical_dot(dnorm.data(), norm.data(), C) / static_cast<float>(C);
    float* dx = dinp + n * C;
    for (long c = 0; c < C; ++c) dx[c] = dx[c] + ((dnorm[c] - dnorm_mean) - norm[c] * dnorm_norm_mean) * s;
  });
}

}  // namespace parity
