// Causal multi-head self-attention on a fused qkv activation.
//
// Shapes (one micro-batch of S sequences, N = S*T rows, Hl heads on this rank, hs = head size):
//   qkv  [N, Hl*3*hs]   head-interleaved: for head h, q at h*3hs, k at h*3hs + hs, v at h*3hs + 2hs.
//                       (The file layout of attn.qkv.weight is Q, K, V blocks [3C, C]; the model keeps its
//                       rows permuted to this order so that a tensor-parallel rank's heads are contiguous.)
//   att  [S, Hl, T, T]  softmax probabilities (row t holds t2 <= t; the rest is zero)
//   out  [N, Hl*hs]     heads contiguous, ready for the output projection
// Every sum follows the canonical order: q.k over hs, the softmax denominator over t2, att.v over t2,
// and in the backward pass the sums over t (t2 <= t) for dk and dv, blocks aligned at index 0.
#pragma once

#include "kernels/gemm.hpp"

namespace parity {

// Exact numerics: canonical order (below); fast: BLAS for the products.
void attention_forward(float* out, float* att, const float* qkv, long S, long T, long Hl, long hs,
                       Numerics num = Numerics::exact);

// dqkv and the scratch are overwritten. dout is the gradient of out.
void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* att, long S, long T,
                        long Hl, long hs, Numerics num = Numerics::exact);

}  // namespace parity
