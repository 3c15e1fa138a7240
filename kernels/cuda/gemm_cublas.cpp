// cuBLAS GEMMs for fast numerics (gemm_cublas.hpp). Compiled as CUDA (nvcc_wrapper -x cu): the bias and the
// conversion kernels are here too.
//
// Row-major through a column-major library. cuBLAS reads an m x n column-major matrix with leading dimension
// ld; a row-major R x C matrix M with C contiguous is, read that way, the column-major C x R matrix Mᵀ (ld =
// C). So every row-major product is computed as its transpose, which swaps the operands:
//
//   Y = X·Wᵀ    (Y [N,O], X [N,K], W [O,K])  <=>  Yᵀ = W·Xᵀ:   cuBLAS sees Xᵀ as Xc (K x N, ld K) and Wᵀ as
//               Wc (K x O, ld K); Yc (O x N, ld O) = Wcᵀ · Xc   -> gemm(T, N, m=O, n=N, k=K, A=W, B=X)
//   dX = dY·W   (dX [N,K], dY [N,O], W [O,K])  <=>  dXᵀ = Wᵀ·dYᵀ: Wc is K x O (ld K), dYc is O x N (ld O);
//               dXc (K x N, ld K) = Wc · dYc                    -> gemm(N, N, m=K, n=N, k=O, A=W, B=dY)
//   dW = dYᵀ·X  (dW [O,K], dY [N,O], X [N,K])  <=>  dWᵀ = Xᵀ·dY:  Xc is K x N (ld K), dYc is O x N (ld O);
//               dWc (K x O, ld K) = Xc · dYcᵀ                   -> gemm(N, T, m=K, n=O, k=N, A=X, B=dY)
//
// No data is transposed or copied: only the roles of the operands and the transpose flags change.
#include "kernels/cuda/gemm_cublas.hpp"

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <climits>
#include <stdexcept>
#include <string>

namespace parity::cuda {

namespace {

void check_cuda(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + " failed: " + cudaGetErrorString(e));
}

void check_cublas(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS)
    throw std::runtime_error(std::string(what) + " failed: " + cublasGetStatusName(s) + " (" +
                             cublasGetStatusString(s) + ")");
}

int to_int(long v, const char* what) {
  if (v < 0 || v > INT_MAX) throw std::invalid_argument(std::string("cuBLAS GEMM: ") + what + " out of int range");
  return static_cast<int>(v);
}

cudaDataType_t data_type(Precision p) {
  switch (p) {
    case Precision::bf16: return CUDA_R_16BF;
    case Precision::fp16: return CUDA_R_16F;
    default: return CUDA_R_32F;
  }
}

__global__ void add_bias_kernel(const float* __restrict__ bias, float* __restrict__ Y, long N, long O) {
  const long total = N * O;
  for (long i = blockIdx.x * long(blockDim.x) + threadIdx.x; i < total; i += long(gridDim.x) * blockDim.x)
    Y[i] = Y[i] + bias[i % O];
}

template <class T>
__device__ T from_float(float x);
template <>
__device__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }
template <>
__device__ __half from_float<__half>(float x) { return __float2half_rn(x); }

template <class T>
__global__ void convert_kernel(const float* __restrict__ src, T* __restrict__ dst, long n) {
  for (long i = blockIdx.x * long(blockDim.x) + threadIdx.x; i < n; i += long(gridDim.x) * blockDim.x)
    dst[i] = from_float<T>(src[i]);
}

unsigned grid_for(long n, unsigned block) {
  const long g = (n + block - 1) / block;
  return static_cast<unsigned>(g < 65535 * 16 ? (g > 0 ? g : 1) : 65535 * 16);
}

}  // namespace

CublasGemm::CublasGemm(cudaStream_t stream) : stream_(stream) {
  cublasHandle_t h = nullptr;
  check_cublas(cublasCreate(&h), "cublasCreate");
  handle_ = h;
  check_cublas(cublasSetStream(h, stream), "cublasSetStream");
  // Default math: no TF32 for fp32 (CUBLAS_TF32_TENSOR_OP_MATH would round the fp32 inputs to 10 mantissa bits).
  check_cublas(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
}

CublasGemm::~CublasGemm() {
  if (handle_) cublasDestroy(handle_);
}

void CublasGemm::gemm(Precision p, bool trans_a, bool trans_b, long m, long n, long k, const void* A, long lda,
                      const void* B, long ldb, float* C, long ldc) {
  const float one = 1.0f, zero = 0.0f;
  const cublasOperation_t ta = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, tb = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int im = to_int(m, "m"), in = to_int(n, "n"), ik = to_int(k, "k");
  const int ilda = to_int(lda, "lda"), ildb = to_int(ldb, "ldb"), ildc = to_int(ldc, "ldc");
  if (p == Precision::fp32) {
    check_cublas(cublasSgemm(handle_, ta, tb, im, in, ik, &one, static_cast<const float*>(A), ilda,
                             static_cast<const float*>(B), ildb, &zero, C, ildc),
                 "cublasSgemm");
    return;
  }
  // 16-bit inputs, fp32 output and accumulation (tensor cores).
  check_cublas(cublasGemmEx(handle_, ta, tb, im, in, ik, &one, A, data_type(p), ilda, B, data_type(p), ildb, &zero, C,
                            CUDA_R_32F, ildc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
               "cublasGemmEx");
}

void CublasGemm::sgemm_batched(bool trans_a, bool trans_b, long m, long n, long k, const float* A, long lda,
                               long stride_a, const float* B, long ldb, long stride_b, float* C, long ldc,
                               long stride_c, long batch) {
  if (m <= 0 || n <= 0 || batch <= 0) return;
  const float one = 1.0f, zero = 0.0f;
  const cublasOperation_t ta = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, tb = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  check_cublas(cublasSgemmStridedBatched(handle_, ta, tb, to_int(m, "m"), to_int(n, "n"), to_int(k, "k"), &one, A,
                                         to_int(lda, "lda"), stride_a, B, to_int(ldb, "ldb"), stride_b, &zero, C,
                                         to_int(ldc, "ldc"), stride_c, to_int(batch, "batch")),
               "cublasSgemmStridedBatched");
}

void CublasGemm::xwt(Precision p, const void* X, const void* W, const float* bias, float* Y, long N, long K, long O) {
  if (N <= 0 || O <= 0) return;
  if (K <= 0) {  // an empty reduction: zeros (then the bias), as on the CPU
    check_cuda(cudaMemsetAsync(Y, 0, sizeof(float) * N * O, stream_), "cudaMemsetAsync");
  } else {
    gemm(p, /*trans_a=*/true, /*trans_b=*/false, O, N, K, W, K, X, K, Y, O);
  }
  if (bias) {
    add_bias_kernel<<<grid_for(N * O, 256), 256, 0, stream_>>>(bias, Y, N, O);
    check_cuda(cudaGetLastError(), "add_bias_kernel");
  }
}

void CublasGemm::dyw(Precision p, const void* dY, const void* W, float* dX, long N, long O, long K) {
  if (N <= 0 || K <= 0) return;
  if (O <= 0) {
    check_cuda(cudaMemsetAsync(dX, 0, sizeof(float) * N * K, stream_), "cudaMemsetAsync");
    return;
  }
  gemm(p, false, false, K, N, O, W, K, dY, O, dX, K);
}

void CublasGemm::dytx(Precision p, const void* dY, const void* X, float* dW, long N, long O, long K) {
  if (O <= 0 || K <= 0) return;
  if (N <= 0) {
    check_cuda(cudaMemsetAsync(dW, 0, sizeof(float) * O * K, stream_), "cudaMemsetAsync");
    return;
  }
  gemm(p, false, true, K, O, N, X, K, dY, O, dW, K);
}

void convert_from_float(Precision p, const float* src, void* dst, long n, cudaStream_t stream) {
  if (n <= 0) return;
  const unsigned g = grid_for(n, 256);
  switch (p) {
    case Precision::bf16:
      convert_kernel<<<g, 256, 0, stream>>>(src, static_cast<__nv_bfloat16*>(dst), n);
      break;
    case Precision::fp16:
      convert_kernel<<<g, 256, 0, stream>>>(src, static_cast<__half*>(dst), n);
      break;
    default:
      check_cuda(cudaMemcpyAsync(dst, src, sizeof(float) * n, cudaMemcpyDeviceToDevice, stream), "cudaMemcpyAsync");
      return;
  }
  check_cuda(cudaGetLastError(), "convert_kernel");
}

}  // namespace parity::cuda
