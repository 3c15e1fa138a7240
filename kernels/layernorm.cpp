#include "kernels/layernorm.hpp"

#include <cmath>
#include <vector>

#include "kernels/canonical.hpp"
#include "kernels/parallel.hpp"

namespace parity {

void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                       const float* bias, long N, long C) {
  parallel_units("layernorm_forward", N, [=](long n) {
    const float* x = inp + n * C;
    const float m = canonical_sum(x, C) / static_cast<float>(C);
    const float var = canonical_sum_of(C, [&](long c) {
                        const float d = x[c] - m;
                        return d * d;
                      }) / static_cast<float>(C);
    const float s = 1.0f / std::sqrt(var + kLayerNormEps);
    float* o = out + n * C;
    for (long c = 0; c < C; ++c) o[c] = ((x[c] - m) * s) * weight[c] + bias[c];
    mean[n] = m;
    rstd[n] = s;
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
    std::vector<float> norm(C), dnorm(C);
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
