#include "kernels/parallel.hpp"

#include <cblas.h>

#include <stdexcept>
#include <string>

namespace parity {

namespace {
int g_threads = 1;
}

int host_threads() { return g_threads; }

void set_host_threads(int n) {
  if (n < 1) throw std::invalid_argument("threads per rank must be at least 1, got " + std::to_string(n));
  g_threads = n;
  set_blas_threads(n);  // BLAS (fast numerics) uses the same budget; its pool is separate from ours
}

void set_blas_threads(int n) {
  static int current = -1;
  if (n != current) openblas_set_num_threads(n);
  current = n;
}

}  // namespace parity
