#include "kernels/linear.hpp"

#include "kernels/canonical.hpp"
#include "kernels/device.hpp"

namespace parity {

void linear_forward(Numerics num, float* Y, const float* X, const float* W, const float* b, long N, long K,
                    long O) {
  gemm_xwt(num, X, W, b, Y, N, K, O);
}

void linear_backward(Numerics num, float* dX, float* dW, float* db, const float* dY, const float* X,
                     const float* W, long N, long K, long O) {
  if (dX) gemm_dyw(num, dY, W, dX, N, O, K);
  if (dW) gemm_dytx(num, dY, X, dW, N, O, K);
  if (db) column_sums_2p(dY, N, O, O, db);  // on the device: the row blocks in parallel, then the tree
}

}  // namespace parity
