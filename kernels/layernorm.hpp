// LayerNorm over the channel dimension (eps 1e-5), statistics in fp32.
//   inp, out [N, C]; weight, bias [C]; mean, rstd [N] saved for the backward pass.
#pragma once

#include "kernels/precision.hpp"

namespace parity {

constexpr float kLayerNormEps = 1e-5f;

void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                       const float* bias, long N, long C);

// Fused residual + LayerNorm, for a block's output projection whose GEMM ran without its bias: per row,
// res = round(x + round(res + res_bias)) in place (the residual stream), then out = round(layernorm(res)).
// The same operations in the same order as the separate residual pass, LayerNorm and roundings (so the
// same bits), in one pass over the rows.
void residual_layernorm_forward(float* out, float* mean, float* rstd, float* res, const float* x,
                                const float* res_bias, const float* weight, const float* bias, long N, long C,
                                Precision prec);

// dinp += dx (the residual stream's gradient accumulates: dinp = dinp + dx, one add);
// dweight, dbias = canonical sums over the N rows (overwritten).
void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, const float* mean, const float* rstd, long N, long C);

}  // namespace parity
