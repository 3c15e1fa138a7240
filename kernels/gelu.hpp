// GELU, tanh approximation: y = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). Elementwise over n values.
#pragma once

namespace parity {

// tanh_out (may be null) keeps tanh(sqrt(2/pi)(x + 0.044715 x^3)) for the backward pass, which then needs no
// second transcendental.
void gelu_forward(float* out, float* tanh_out, const float* inp, long n);
// dinp = dout * gelu'(inp) (overwritten); th is the forward's tanh_out, or null to recompute it.
void gelu_backward(float* dinp, const float* inp, const float* th, const float* dout, long n);

}  // namespace parity
