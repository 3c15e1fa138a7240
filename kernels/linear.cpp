#include "kernels/linear.hpp"

#include "kernels/canonical.hpp"
#include "kernels/device.hpp"

namespace parity {

namespace devk {

// db[o] = canonical sum over the N rows of dY[:, o] (column_sums' order), one thread per column.
void column_sums_device(const float* dY, long N, long O, float* db) {
  device_for("parity::linear_db_device", O, KOKKOS_LAMBDA(long o) { db[o] = dev::canonical_sum(dY + o, N, O); });
}

}  // namespace devk

void linear_forward(Numerics num, float* Y, const float* X, const float* W, const float* b, long N, long K,
                    long O) {
  gemm_xwt(num, X, W, b, Y, N, K, O);
}

void linear_backward(Numerics num, float* dX, float* dW, float* db, const float* dY, const float* X,
                     const float* W, long N, long K, long O) {
  if (dX) gemm_dyw(num, dY, W, dX, N, O, K);
  if (dW) gemm_dytx(num, dY, X, dW, N, O, K);
  if (db) {
    if (on_device())
      devk::column_sums_device(dY, N, O, db);
    else
      column_sums(dY, N, O, O, db);
  }
}

}  // namespace parity
