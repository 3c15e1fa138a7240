// Fully connected layer, PyTorch convention (weight [O, K]).
//   forward:  Y[N,O] = X[N,K] · W[O,K]^T + b[O]
//   backward: dX[N,K] = dY · W;  dW[O,K] = dY^T · X;  db[O] = sum over rows of dY   (all overwritten)
// Every reduction (over K, over O, over N) follows the canonical order in exact mode.
#pragma once
#include "kernels/gemm.hpp"

namespace parity {

void linear_forward(Numerics num, float* Y, const float* X, const float* W, const float* b, long N, long K,
                    long O);

// dX, dW or db may be null to skip that output.
void linear_backward(Numerics num, float* dX, float* dW, float* db, const float* dY, const float* X,
                     const float* W, long N, long K, long O);

}  // namespace parity
