// AdamW on fp32 master weights (elementwise, so any sharding gives the same bits).
//   m = b1 m + (1-b1) g';  v = b2 v + (1-b2) g'^2;  w -= lr (m/(1-b1^t) / (sqrt(v/(1-b2^t)) + eps) + wd w)
// with g' = g * grad_scale (the clipping factor, 1 when not clipping) and wd = 0 for vectors.
#pragma once

namespace parity {

struct AdamWConfig {
  float beta1 = 0.9f, beta2 = 0.95f, eps = 1e-8f, weight_decay = 0.1f;
};

// t is the 1-based update count (bias correction).
void adamw_update(float* w, float* m, float* v, const float* g, long n, float lr, float weight_decay,
                  float grad_scale, long t, const AdamWConfig& cfg);

}  // namespace parity
