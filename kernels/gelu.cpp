#include "kernels/gelu.hpp"

#include <algorithm>
#include <cmath>

#include "kernels/parallel.hpp"

namespace parity {

namespace {
constexpr float kGeluScale = 0.7978845608028654f;  // sqrt(2/pi)
constexpr float kGeluCube = 0.044715f;
constexpr long kChunk = 4096;  // elements per parallel unit
}  // namespace


inline float gelu_tanh(float x) { return std::tanh(kGeluScale * (x + kGeluCube * x * x * x)); }

void gelu_forward(float* out, float* tanh_out, const float* inp, long n) {
  parallel_units("gelu_forward", (n + kChunk - 1) / kChunk, [=](long u) {
    const long hi = std::min(n, (u + 1) * kChunk);
    for (long i = u * kChunk; i < hi; ++i) {
      const float x = inp[i];
      const float t = gelu_tanh(x);
      if (tanh_out) tanh_out[i] = t;
      out[i] = 0.5f * x * (1.0f + t);
    }
  });
}

void gelu_backward(float* dinp, const float* inp, const float* th, const float* dout, long n) {
  parallel_units("gelu_backward", (n + kChunk - 1) / kChunk, [=](long u) {
    const long hi = std::min(n, (u + 1) * kChunk);
    for (long i = u * kChunk; i < hi; ++i) {
      const float x = inp[i];
      const float t = th ? th[i] : gelu_tanh(x);
      const float sech2 = 1.0f - t * t;
      const float local = 0.5f * (1.0f + t) + 0.5f * x * sech2 * kGeluScale * (1.0f + 3.0f * kGeluCube * x * x);
      dinp[i] = dout[i] * local;
    }
  });
}

}  // namespace parity
