// Where a result came from: recorded as attributes on every run group (docs/hdf5-schema.md).
#pragma once
#include <string>

namespace parity {

struct Provenance {
  std::string git_revision, compiler, kokkos_backend, mpi_library, hosts, date;
  // The fp32 peak of one rank, GFLOP/s, for `parity report`'s MFU: an estimate from the CPU's vector width
  // and clock (see estimate_cpu_peak), never a measurement; 0 when it cannot be estimated. peak_source says
  // how it was obtained (or why there is none).
  double peak_gflops_per_rank = 0;
  std::string peak_source;
};

// `threads_per_rank` (--threads) scales the peak: a rank's threads run on as many cores.
Provenance collect_provenance(int threads_per_rank = 1);

// The estimate behind Provenance::peak_gflops_per_rank, for `threads` cores:
//   clock (GHz) x fp32 lanes of the widest vector unit x 2 flops per fused multiply-add x FMA units per core
//   x threads,
// with AVX-512: 16 lanes, AVX2 with FMA: 8 lanes, 2 FMA units per core assumed (some CPUs have one 512-bit
// unit: half); AVX without FMA: 8 lanes, one add and one multiply per cycle; SSE2: 4 lanes likewise; Arm NEON:
// 4 lanes, 2 FMA units assumed. The clock is the maximum frequency of cpu0 in sysfs (cpuinfo_max_freq), else
// the highest "cpu MHz" of /proc/cpuinfo (the current clock, which may be below the boost clock). It is the
// CPU's peak: runs whose kernels run on a GPU (--target device) need `parity report --peak-gflops`.
void estimate_cpu_peak(int threads, double& gflops, std::string& source);

class H5Writer;
// Writes p as attributes of `group` (git_revision, compiler, kokkos_backend, mpi_library, hosts, date,
// peak_gflops, peak_source).
void write_provenance(H5Writer& w, const std::string& group, const Provenance& p);

}  // namespace parity
