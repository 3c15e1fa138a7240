#!/usr/bin/env bash
# Idempotent set-up on Debian 12 as root: install the Debian packages parity needs (only what is missing),
# then configure and build the default (Release) preset. Usage: bash ci/setup.sh [preset]
set -euo pipefail
preset=${1:-default}
cd "$(dirname "$0")/.."

packages=(build-essential cmake ninja-build git libopenmpi-dev openmpi-bin libhdf5-dev hdf5-tools
          libtrilinos-kokkos-dev libopenblas-dev libcli11-dev libtomlplusplus-dev libfmt-dev nlohmann-json3-dev
          libgtest-dev libbenchmark-dev slurm-wlm munge ${PARITY_EXTRA_PACKAGES:-})
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "ci/setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

cmake --preset "$preset" -G Ninja
cmake --build --preset "$preset" -j "$(nproc)"
