#include "kernels/layernorm.hpp"

#include <cmath>
#include <vector>

#include "kernels/canonical.hpp"
#include "kernels/parallel.hpp"

namespace parity {

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
  parallel_units("layernorm_forward", N, [=](long n) {
    layernorm_row(out + n * C, mean[n], rstd[n], inp + n * C, weight, bias, C);
  });
}

void residual_layernorm_forward(float* out, float* mean, float* rstd, float* res, const float* x,
                                const float* res_bias, const float* weight, const float* bias, long N, long C,
                                Precision prec) {
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
