// Where the kernels run: host (the CPU kernels) or device (Kokkos's default execution space, the GPU in the
// CUDA build). Apart from kernels/device.hpp, which holds the process-wide setting, so that code which only
// names a target (the run definition, the harness) does not include Kokkos.
#pragma once

namespace parity {

enum class Target { host, device };

const char* to_string(Target t);  // "host" | "device" (kernels/device.cpp)

}  // namespace parity
