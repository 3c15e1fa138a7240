// Loops over independent units (rows, heads, tiles) go through Kokkos so that a threaded backend
// (OpenMP) parallelises them. Each unit writes its own outputs and every reduction inside a unit
// follows the canonical order, so the result is the same bits for any thread count.
#pragma once
#include <Kokkos_Core.hpp>

namespace parity {

template <class F>
inline void parallel_units(const char* label, long n, const F& f) {
  using Policy = Kokkos::RangePolicy<Kokkos::DefaultHostExecutionSpace, Kokkos::IndexType<long>>;
  Kokkos::parallel_for(label, Policy(0, n), f);
}

}  // namespace parity
