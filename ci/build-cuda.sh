#!/usr/bin/env bash
# The CUDA build, compile and link only (no GPU needed): Kokkos with CUDA (ci/build-kokkos-cuda.sh, skipped
# when already installed), then the `cuda` preset (build-cuda/: parity and parity_gpu_tests), then the bundle
# that ci/gpu-check.sh runs on a GPU machine (ci/gpu-bundle.sh, build-cuda/gpu/). Prints the time of each part.
# Usage: bash ci/build-cuda.sh            (as root on Debian 12 with CUDA in /usr/local/cuda; docs/gpu.md)
# Environment: PARITY_KOKKOS_CUDA (default /opt/kokkos-cuda; another prefix needs its own configure flags,
# see docs/gpu.md), PARITY_JOBS (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${PARITY_JOBS:-2}
t0=$SECONDS
if [ ! -x /usr/local/cuda/bin/nvcc ] && [ -z "${CUDA_HOME:-}" ]; then
  echo "ci/build-cuda.sh: no CUDA toolkit (/usr/local/cuda/bin/nvcc); skipping the CUDA build" >&2
  exit 0
fi
rc=0
PARITY_JOBS=$jobs bash ci/build-kokkos-cuda.sh "${PARITY_KOKKOS_CUDA:-/opt/kokkos-cuda}" || rc=$?
if [ "$rc" = 3 ] && [ "${PARITY_CUDA_REQUIRED:-0}" != 1 ]; then
  # The Kokkos source could not be downloaded: nothing about parity's code is known, so say so loudly and
  # leave the verdict to the CPU build (PARITY_CUDA_REQUIRED=1 makes this a failure).
  echo "ci/build-cuda.sh: WARNING: CUDA build SKIPPED: the Kokkos source (Debian's trilinos) could not be fetched" >&2
  exit 0
fi
[ "$rc" = 0 ] || exit "$rc"
t1=$SECONDS
cmake --preset cuda
cmake --build --preset cuda -j "$jobs"
t2=$SECONDS
bash ci/gpu-bundle.sh
echo "ci/build-cuda.sh: Kokkos $((t1 - t0)) s, parity cuda preset $((t2 - t1)) s, bundle $((SECONDS - t2)) s," \
     "total $((SECONDS - t0)) s"
