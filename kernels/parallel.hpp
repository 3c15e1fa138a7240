// Loops over independent units (rows, heads, tiles) go through parallel_units. Each unit writes its own
// outputs and every reduction inside a unit follows the canonical order, so the result is the same bits for
// any thread count.
//
// Threads per rank: Kokkos's host execution space when it is threaded (OpenMP, as clusters build it); when
// it is Serial (Debian's package) and parity was built with OpenMP, an OpenMP team of host_threads() takes
// the loop instead, so `--threads` works with either Kokkos. Nested calls (a GEMM inside a per-head unit)
// run on the calling thread.
#pragma once
#include <Kokkos_Core.hpp>

#include <type_traits>

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace parity {

// Threads this rank uses for its own loops and for BLAS (fast numerics). Default 1.
int host_threads();
// Sets both; n >= 1. Call before the first parallel loop.
void set_host_threads(int n);
// BLAS's own thread count (a BLAS call inside a parallel loop must not start a second team).
void set_blas_threads(int n);

template <class F>
inline void parallel_units(const char* label, long n, const F& f) {
#if defined(_OPENMP) && defined(KOKKOS_ENABLE_SERIAL)
  if constexpr (std::is_same_v<Kokkos::DefaultHostExecutionSpace, Kokkos::Serial>) {
    if (host_threads() > 1 && n > 1) {
      if (omp_in_parallel()) {
        for (long i = 0; i < n; ++i) f(i);
      } else {
        set_blas_threads(1);  // BLAS calls inside the units (fast attention) run on their unit's thread
#pragma omp parallel for schedule(static) num_threads(host_threads())
        for (long i = 0; i < n; ++i) f(i);
        set_blas_threads(host_threads());
      }
      return;
    }
  }
#endif
  using Policy = Kokkos::RangePolicy<Kokkos::DefaultHostExecutionSpace, Kokkos::IndexType<long>>;
  Kokkos::parallel_for(label, Policy(0, n), f);
}

}  // namespace parity
