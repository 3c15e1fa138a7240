// Fast-mode GEMMs on the GPU through cuBLAS: the three forms of kernels/gemm.hpp, with fp32, bf16 or fp16
// operands and fp32 accumulation and output (docs/numerics.md, "Precisions"; docs/gpu.md).
//
//   xwt:  Y[N,O]  = X[N,K] · W[O,K]^T, then Y += bias[o] if bias != nullptr (after the reduction)
//   dyw:  dX[N,K] = dY[N,O] · W[O,K]
//   dytx: dW[O,K] = dY[N,O]^T · X[N,K]
//
// As on the CPU, every matrix is row-major and contiguous and every output is overwritten (beta = 0; dW is
// not accumulated into: the trainer sums micro-batch gradients itself, in the canonical tree). All pointers
// are device (or managed) memory. Operands X, W, dY have the element type of `precision` (float,
// __nv_bfloat16 or __half); Y, dX, dW and bias are float. fp32 runs cublasSgemm with the default math mode
// (no TF32, so the fp32 bound of docs/numerics.md holds); bf16 and fp16 run cublasGemmEx with
// CUBLAS_COMPUTE_32F (tensor cores, fp32 accumulation). cuBLAS chooses its own reduction order: this is
// `fast` numerics only; exact mode on the GPU needs the canonical-order kernels (not written yet).
//
// Calls are asynchronous on the object's stream; synchronise (cudaStreamSynchronize(stream())) before the
// host reads a result. Errors throw std::runtime_error naming the cuBLAS/CUDA call.
#pragma once
#include <cuda_runtime_api.h>

#include "kernels/precision.hpp"

struct cublasContext;

namespace parity::cuda {

class CublasGemm {
 public:
  // Work on `stream` (nullptr: the legacy default stream). Creates one cuBLAS handle; not thread-safe.
  explicit CublasGemm(cudaStream_t stream = nullptr);
  ~CublasGemm();
  CublasGemm(const CublasGemm&) = delete;
  CublasGemm& operator=(const CublasGemm&) = delete;

  void xwt(Precision p, const void* X, const void* W, const float* bias, float* Y, long N, long K, long O);
  void dyw(Precision p, const void* dY, const void* W, float* dX, long N, long O, long K);
  void dytx(Precision p, const void* dY, const void* X, float* dW, long N, long O, long K);

  // Column-major, fp32 (SGEMM, no TF32), a batch of `batch` products: C_b = op(A_b) · op(B_b) with
  // X_b = X + b * strideX, beta = 0 (cublasSgemmStridedBatched). For the fast attention on the GPU.
  void sgemm_batched(bool trans_a, bool trans_b, long m, long n, long k, const float* A, long lda, long stride_a,
                     const float* B, long ldb, long stride_b, float* C, long ldc, long stride_c, long batch);

  cudaStream_t stream() const { return stream_; }
  cublasContext* handle() const { return handle_; }

 private:
  // Column-major C[m,n] = op(A) · op(B) with fp32 output, beta = 0 (see gemm_cublas.cpp for the mapping).
  void gemm(Precision p, bool trans_a, bool trans_b, long m, long n, long k, const void* A, long lda, const void* B,
            long ldb, float* C, long ldc);
  cublasContext* handle_ = nullptr;
  cudaStream_t stream_ = nullptr;
};

// dst[i] = src[i] rounded to the precision's format (round to nearest even), on `stream`: float -> float
// (copy), __nv_bfloat16 or __half. For feeding fp32 buffers to the 16-bit GEMMs.
void convert_from_float(Precision p, const float* src, void* dst, long n, cudaStream_t stream = nullptr);

// Bytes per element of the precision's storage format (4 or 2).
inline long element_bytes(Precision p) { return p == Precision::fp32 ? 4 : 2; }

}  // namespace parity::cuda
