#include "kernels/gelu.hpp"

#include <algorithm>
#include <cmath>

#include "kernels/device.hpp"
#include "kernels/parallel.hpp"
#include "kernels/vmath.hpp"

namespace parity {

namespace {
constexpr float kGeluScale = 0.7978845608028654f;  // sqrt(2/pi)
constexpr float kGeluCube = 0.044715f;
constexpr long kChunk = 4096;  // elements per parallel unit
KOKKOS_INLINE_FUNCTION float gelu_tanh(float x) { return vm::tanh(kGeluScale * (x + kGeluCube * x * x * x)); }
// The per-element forward (host scalar path and device kernel); the AVX-512 loop mirrors it.
KOKKOS_INLINE_FUNCTION float gelu_of(float x, float t) { return 0.5f * x * (1.0f + t); }
// gelu'(x) given t = gelu_tanh(x) (host and device backward).
KOKKOS_INLINE_FUNCTION float gelu_grad(float x, float t) {
  const float sech2 = 1.0f - t * t;
  return 0.5f * (1.0f + t) + 0.5f * x * sech2 * kGeluScale * (1.0f + 3.0f * kGeluCube * x * x);
}

// out[i], tanh_out[i] for i in [lo, hi). With a bias (fp32 only: no rounding in between), the input is
// first inp[i] + bias[i - lo], stored back to inp: one pass instead of two.
void gelu_span(float* out, float* tanh_out, const float* inp, long lo, long hi, float* inp_store = nullptr,
               const float* bias = nullptr) {
  long i = lo;
#if defined(__AVX512F__)
  // The scalar loop below, 16 at a time, operation for operation (same bits).
  const __m512 scale = _mm512_set1_ps(kGeluScale), cube = _mm512_set1_ps(kGeluCube);
  const __m512 half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f);
  for (; i + 16 <= hi; i += 16) {
    __m512 x = _mm512_loadu_ps(inp + i);
    if (bias) {
      x = _mm512_add_ps(x, _mm512_loadu_ps(bias + (i - lo)));
      _mm512_storeu_ps(inp_store + i, x);
    }
    const __m512 x3 = _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(cube, x), x), x);
    const __m512 t = vm::tanh(_mm512_mul_ps(scale, _mm512_add_ps(x, x3)));
    if (tanh_out) _mm512_storeu_ps(tanh_out + i, t);
    _mm512_storeu_ps(out + i, _mm512_mul_ps(_mm512_mul_ps(half, x), _mm512_add_ps(one, t)));
  }
#endif
  for (; i < hi; ++i) {
    float x = inp[i];
    if (bias) inp_store[i] = x = x + bias[i - lo];
    const float t = gelu_tanh(x);
    if (tanh_out) tanh_out[i] = t;
    out[i] = gelu_of(x, t);
  }
}

}  // namespace

// Device forms (kernels/device.hpp): one thread per element, the host's per-element operations.
namespace devk {

void bias_gelu_forward(float* out, float* tanh_out, float* pre, const float* bias, long N, long O, Precision prec) {
  device_for("bias_gelu_forward", N * O, KOKKOS_LAMBDA(long i) {
    // fp32: pre + bias stored, then GELU (no rounding); 16-bit: both stores rounded (dev::round is the
    // identity for fp32, so one expression covers all three).
    const float x = dev::round(prec, pre[i] + bias[i % O]);
    pre[i] = x;
    const float t = gelu_tanh(x);
    if (tanh_out) tanh_out[i] = t;
    out[i] = dev::round(prec, gelu_of(x, t));
  });
}

void gelu_backward(float* dinp, const float* inp, const float* th, const float* dout, long n) {
  device_for("gelu_backward", n, KOKKOS_LAMBDA(long i) {
    const float x = inp[i];
    const float t = th ? th[i] : gelu_tanh(x);
    dinp[i] = dout[i] * gelu_grad(x, t);
  });
}

}  // namespace devk

void gelu_forward(float* out, float* tanh_out, const float* inp, long n) {
  if (on_device()) {
    gelu_forward_device(out, tanh_out, inp, n);
    return;
  }
  parallel_units("gelu_forward", (n + kChunk - 1) / kChunk, [=](long u) {
    gelu_span(out, tanh_out, inp, u * kChunk, std::min(n, (u + 1) * kChunk));
  });
}

void bias_gelu_forward(float* out, float* tanh_out, float* pre, const float* bias, long N, long O, Precision prec) {
  if (on_device()) {
    devk::bias_gelu_forward(out, tanh_out, pre, bias, N, O, prec);
    return;
  }
  parallel_units("bias_gelu_forward", N, [=](long r) {
    float* p = pre + r * O;
    if (prec == Precision::fp32) {  // nothing to round: bias, GELU and both stores in one pass
      gelu_span(out, tanh_out, pre, r * O, (r + 1) * O, pre, bias);
      return;
    }
    for (long o = 0; o < O; ++o) p[o] = p[o] + bias[o];
    round_to(prec, p, O);
    gelu_span(out + r * O, tanh_out ? tanh_out + r * O : nullptr, p, 0, O);
    round_to(prec, out + r * O, O);
  });
}

void gelu_backward(float* dinp, const float* inp, const float* th, const float* dout, long n) {
  if (on_device()) {
    devk::gelu_backward(dinp, inp, th, dout, n);
    return;
  }
  parallel_units("gelu_backward", (n + kChunk - 1) / kChunk, [=](long u) {
    const long hi = std::min(n, (u + 1) * kChunk);
    for (long i = u * kChunk; i < hi; ++i) {
      const float x = inp[i];
      const float t = th ? th[i] : gelu_tanh(x);
      dinp[i] = dout[i] * gelu_grad(x, t);
    }
  });
}

void gelu_forward_device(float* out, float* tanh_out, const float* inp, long n) {
  device_for("gelu_forward_device", n, KOKKOS_LAMBDA(long i) {
    const float x = inp[i];
    const float t = gelu_tanh(x);
    if (tanh_out) tanh_out[i] = t;
    out[i] = gelu_of(x, t);
  });
}

}  // namespace parity
