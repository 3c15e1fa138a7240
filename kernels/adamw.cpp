#include "kernels/adamw.hpp"

#include <algorithm>
#include <cmath>

#include "kernels/device.hpp"
#include "kernels/parallel.hpp"

namespace parity {

void adamw_update(float* w, float* m, float* v, const float* g, long n, float lr, float weight_decay,
                  float grad_scale, long t, const AdamWConfig& cfg) {
  const float b1 = cfg.beta1, b2 = cfg.beta2, eps = cfg.eps;
  const float c1 = static_cast<float>(1.0 - std::pow(static_cast<double>(b1), static_cast<double>(t)));
  const float c2 = static_cast<float>(1.0 - std::pow(static_cast<double>(b2), static_cast<double>(t)));
  if (on_device()) {
    device_for("adamw_update", n, KOKKOS_LAMBDA(long i) {  // the loop below, one element per thread
      const float gi = g[i] * grad_scale;
      const float mi = b1 * m[i] + (1.0f - b1) * gi;
      const float vi = b2 * v[i] + (1.0f - b2) * (gi * gi);
      m[i] = mi;
      v[i] = vi;
      const float mhat = mi / c1, vhat = vi / c2;
      w[i] = w[i] - lr * (mhat / (sqrtf(vhat) + eps) + weight_decay * w[i]);
    });
    return;
  }
  constexpr long kChunk = 8192;
  parallel_units("adamw_update", (n + kChunk - 1) / kChunk, [=](long u) {
    const long hi = std::min(n, (u + 1) * kChunk);
    for (long i = u * kChunk; i < hi; ++i) {
      const float gi = g[i] * grad_scale;
      const float mi = b1 * m[i] + (1.0f - b1) * gi;
      const float vi = b2 * v[i] + (1.0f - b2) * (gi * gi);
      m[i] = mi;
      v[i] = vi;
      const float mhat = mi / c1, vhat = vi / c2;
      w[i] = w[i] - lr * (mhat / (std::sqrt(vhat) + eps) + weight_decay * w[i]);
    }
  });
}

}  // namespace parity
