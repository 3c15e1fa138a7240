#include "kernels/adamw.hpp"

#include <algorithm>
#include <cmath>

#include "kernels/device.hpp"
#include "kernels/parallel.hpp"

namespace parity {

namespace {
// One element of the update (the host loop and the device kernel).
KOKKOS_INLINE_FUNCTION void adamw_element(float* w, float* m, float* v, const float* g, long i, float lr,
                                          float weight_decay, float grad_scale, float b1, float b2, float eps,
                                          float c1, float c2) {
  const float gi = g[i] * grad_scale;
  const float mi = b1 * m[i] + (1.0f - b1) * gi;
  const float vi = b2 * v[i] + (1.0f - b2) * (gi * gi);
  m[i] = mi;
  v[i] = vi;
  const float mhat = mi / c1, vhat = vi / c2;
  w[i] = w[i] - lr * (mhat / (sqrtf(vhat) + eps) + weight_decay * w[i]);
}
}  // namespace

void adamw_update(float* w, float* m, float* v, const float* g, long n, float lr, float weight_decay,
                  float grad_scale, long t, const AdamWConfig& cfg) {
  const float b1 = cfg.beta1, b2 = cfg.beta2, eps = cfg.eps;
  const float c1 = static_cast<float>(1.0 - std::pow(static_cast<double>(b1), static_cast<double>(t)));
  const float c2 = static_cast<float>(1.0 - std::pow(static_cast<double>(b2), static_cast<double>(t)));
  if (on_device()) {
    device_for("adamw_update", n, KOKKOS_LAMBDA(long i) {
      adamw_element(w, m, v, g, i, lr, weight_decay, grad_scale, b1, b2, eps, c1, c2);
    });
    return;
  }
  constexpr long kChunk = 8192;
  parallel_units("adamw_update", (n + kChunk - 1) / kChunk, [=](long u) {
    const long hi = std::min(n, (u + 1) * kChunk);
    for (long i = u * kChunk; i < hi; ++i) adamw_element(w, m, v, g, i, lr, weight_decay, grad_scale, b1, b2, eps, c1, c2);
  });
}

}  // namespace parity
