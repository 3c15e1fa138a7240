// Start-up check of the CUDA build: is there a GPU this binary can run on?
//
// The CUDA runtime reports a missing or too old driver, or the absence of any GPU, only as an error code of
// the first CUDA call (and Kokkos::initialize then aborts with a message that does not say why). parity's
// CUDA build asks first, before Kokkos starts, and turns every failure into one line naming the problem:
//
//   parity: error: no CUDA-capable GPU is visible (cudaGetDeviceCount: cudaErrorNoDevice) ...
//
// Only compiled in the CUDA build (PARITY_HAVE_CUDA).
#pragma once
#include <string>

namespace parity::cuda {

// Empty when at least one visible GPU can run this build (compute capability >= the one it was compiled
// for, PARITY_CUDA_ARCH); otherwise a one-line description of the problem and what to do about it.
std::string device_problem();

// If device_problem() is not empty: prints "parity: error: <problem>" to stderr and exits with status 1.
void require_device();

// The GPU of this MPI rank: its rank among the ranks on the same node (MPI_COMM_TYPE_SHARED) modulo the
// visible devices, so that 8 ranks on an 8-GPU node take one each, and several ranks on a one-GPU machine
// share it (their communicator is MPI on host-visible managed memory: a correctness check, not a
// benchmark; NCCL would refuse two ranks on one GPU). Calls cudaSetDevice and returns the device number,
// for Kokkos's --kokkos-device-id. MPI must be initialised.
int select_device_for_rank();

// The number of visible CUDA devices (0 on any error). For messages and provenance.
int device_count();

// "NVIDIA H200 (sm_90, 139.8 GiB), driver 13.0, runtime 13.0" for device `dev`, or the error.
std::string describe_device(int dev);

}  // namespace parity::cuda
