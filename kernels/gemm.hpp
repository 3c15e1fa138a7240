// The three GEMMs of a linear layer, in exact numerics (docs/design.md, canonical order rule 3) or fast
// numerics (BLAS).
//
// All matrices are row-major and contiguous; outputs are overwritten. In exact mode every output element is
// bit-identical to parity::canonical_dot over the reduction index (then + bias), whatever the thread count.
#pragma once
#include "kernels/numerics.hpp"
#include "kernels/precision.hpp"

namespace parity {

// A strided matrix operand: element (i, r) is p[i * si + r * sr], i an output index, r the reduction index.
struct Operand {
  const float* p;
  long si, sr;
};

// Fast numerics on the GPU: the format the operands of gemm_xwt/dyw/dytx are known to hold (the trainer's
// compute precision; default fp32). bf16 or fp16 operands are converted (exactly) to 16-bit and multiplied on
// tensor cores with fp32 accumulation (cuBLAS GemmEx); fp32 runs SGEMM without TF32. No effect on the CPU or
// in exact mode.
void set_fast_gemm_precision(Precision p);
Precision fast_gemm_precision();

// Y[N,O] = X[N,K] · W[O,K]^T, reduction over K; then Y += bias[o] (after the reduction) if bias != nullptr.
void gemm_xwt(Numerics, const float* X, const float* W, const float* bias, float* Y, long N, long K, long O);

// dX[N,K] = dY[N,O] · W[O,K], reduction over O.
void gemm_dyw(Numerics, const float* dY, const float* W, float* dX, long N, long O, long K);

// dW[O,K] = dY[N,O]^T · X[N,K], reduction over N.
void gemm_dytx(Numerics, const float* dY, const float* X, float* dW, long N, long O, long K);

// Y[m * ldy + n] = sum over r < R of A(m, r) · B(n, r), m < M, n < N (overwritten). Exact: canonical order
// over r, bit-identical to canonical_dot. Fast: BLAS when each operand is contiguous along one index.
void gemm_strided(Numerics, Operand A, Operand B, float* Y, long ldy, long M, long N, long R);

}  // namespace parity
