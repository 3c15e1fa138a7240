// LayerNorm over the channel dimension (eps 1e-5), statistics in fp32.
//   inp, out [N, C]; weight, bias [C]; mean, rstd [N] saved for the backward pass.
#pragma once

namespace parity {

constexpr float kLayerNormEps = 1e-5f;

void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                       const float* bias, long N, long C);

// dinp += dx (the residual stream's gradient accumulates: dinp = dinp + dx, one add);
// dweight, dbias = canonical sums over the N rows (overwritten).
void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, const float* mean, const float* rstd, long N, long C);

}  // namespace parity
