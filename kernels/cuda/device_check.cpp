// Start-up check of the CUDA build (device_check.hpp).
#include "kernels/cuda/device_check.hpp"

#include <cuda_runtime_api.h>
#include <mpi.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#ifndef PARITY_CUDA_ARCH
#define PARITY_CUDA_ARCH 90
#endif

namespace parity::cuda {

namespace {

std::string version_string(int v) {  // 13000 -> "13.0"
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

std::string visible_devices_note() {
  const char* v = std::getenv("CUDA_VISIBLE_DEVICES");
  if (v == nullptr) return "";
  return std::string(" (CUDA_VISIBLE_DEVICES=\"") + v + "\")";
}

}  // namespace

int select_device_for_rank() {
  MPI_Comm node;
  int local = 0;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  MPI_Comm_rank(node, &local);
  MPI_Comm_free(&node);
  const int n = device_count();
  const int dev = n > 0 ? local % n : 0;
  if (n > 0 && cudaSetDevice(dev) != cudaSuccess) cudaGetLastError();
  return dev;
}

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // reset the runtime's last-error state for later calls
    return 0;
  }
  return n;
}

std::string describe_device(int dev) {
  cudaDeviceProp prop{};
  const cudaError_t e = cudaGetDeviceProperties(&prop, dev);
  if (e != cudaSuccess) return std::string("device ") + std::to_string(dev) + ": " + cudaGetErrorName(e);
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  char mem[32];
  std::snprintf(mem, sizeof mem, "%.1f GiB", double(prop.totalGlobalMem) / double(1L << 30));
  return std::string(prop.name) + " (sm_" + std::to_string(prop.major) + std::to_string(prop.minor) + ", " + mem +
         "), driver " + version_string(driver) + ", runtime " + version_string(runtime);
}

std::string device_problem() {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);  // 0 when no driver is installed
  cudaRuntimeGetVersion(&runtime);
  const std::string code = std::string(" (cudaGetDeviceCount: ") + cudaGetErrorName(e) + ")";
  const std::string cpu_hint = "; the CPU build of parity (cmake --preset default) needs no GPU";
  switch (e) {
    case cudaSuccess:
      break;
    case cudaErrorInsufficientDriver:
      if (driver == 0)
        return "no NVIDIA driver is installed on this machine" + code +
               ", but this is the CUDA build of parity (CUDA runtime " + version_string(runtime) + ")" + cpu_hint;
      return "the NVIDIA driver supports CUDA up to " + version_string(driver) +
             ", older than the CUDA runtime this build uses (" + version_string(runtime) + ")" + code +
             "; install a newer driver, or build with a CUDA toolkit the driver supports";
    case cudaErrorNoDevice:
      return "no CUDA-capable GPU is visible" + visible_devices_note() + code +
             ", but this is the CUDA build of parity" + cpu_hint;
    default:
      return std::string("CUDA cannot start: ") + cudaGetErrorString(e) + code + visible_devices_note() +
             " (driver CUDA " + version_string(driver) + ", runtime " + version_string(runtime) + ")";
  }
  if (n < 1) return "no CUDA-capable GPU is visible" + visible_devices_note() + cpu_hint;
  // Device code is built for sm_PARITY_CUDA_ARCH (SASS plus PTX), which runs on that compute capability or
  // newer: at least one visible device must qualify.
  std::string seen;
  for (int d = 0; d < n; ++d) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, d) != cudaSuccess) continue;
    if (prop.major * 10 + prop.minor >= PARITY_CUDA_ARCH) return "";
    seen += (seen.empty() ? "" : ", ") + std::string(prop.name) + " (sm_" + std::to_string(prop.major) +
            std::to_string(prop.minor) + ")";
  }
  cudaGetLastError();
  return "this build's device code is for sm_" + std::to_string(PARITY_CUDA_ARCH) +
         " or newer, but the visible GPUs are " + seen +
         "; rebuild Kokkos and parity for them (KOKKOS_CUDA_ARCH=AMPERE80 ci/build-kokkos-cuda.sh PREFIX, "
         "-DCMAKE_CUDA_ARCHITECTURES=80; docs/gpu.md)";
}

void require_device() {
  const std::string why = device_problem();
  if (why.empty()) return;
  std::fprintf(stderr, "parity: error: %s\n", why.c_str());
  std::exit(1);
}

}  // namespace parity::cuda
