#!/usr/bin/env bash
# Set up (if needed), build, and run the whole test suite with ctest. Usage: bash ci/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# The tests also need the independent references: PyTorch (fp64 recomputation of a step) and h5py.
PARITY_EXTRA_PACKAGES="python3-torch python3-h5py" bash ci/setup.sh default
ctest --preset default -j 2 --timeout 900
# The CUDA build, compile and link only (no GPU here): after the CPU tests, so that it cannot hold them up.
bash ci/build-cuda.sh
