#!/usr/bin/env bash
# Set up (if needed), build, and run the whole test suite with ctest. Usage: bash ci/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh default
ctest --preset default -j 2 --timeout 900
# The CUDA build, compile and link only (no GPU here): after the CPU tests, so that it cannot hold them up.
bash ci/build-cuda.sh
