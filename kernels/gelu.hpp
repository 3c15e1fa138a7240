// GELU, tanh approximation: y = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). Elementwise over n values.
#pragma once

namespace parity {

void gelu_forward(float* out, const float* inp, long n);
// dinp = dout * gelu'(inp) (overwritten).
void gelu_backward(float* dinp, const float* inp, const float* dout, long n);

}  // namespace parity
