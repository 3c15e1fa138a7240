#!/usr/bin/env bash
# Build and install Kokkos 3.4.01 with the CUDA backend (plus Serial on the host) for the `cuda` preset.
# Usage: bash ci/build-kokkos-cuda.sh [PREFIX]          (default PREFIX=/opt/kokkos-cuda)
#
# The source is Debian bookworm's trilinos package (packages/kokkos: the same Kokkos 3.4.01 as the system's
# libtrilinos-kokkos-dev, which has the Serial backend only), patched for CUDA 13 and Hopper by
# ci/patches/kokkos-3.4.01-cuda13.patch (docs/gpu.md says what it fixes). Static libraries, C++17,
# Kokkos_ENABLE_CUDA + CUDA_LAMBDA + SERIAL, compiled through the patched nvcc_wrapper, which is installed
# as PREFIX/bin/nvcc_wrapper and recorded in PREFIX's CMake config.
#
# Idempotent: does nothing if PREFIX already holds a Kokkos CMake package. Needs root for apt (deb-src).
# Environment: CUDA_HOME (default /usr/local/cuda), KOKKOS_CUDA_ARCH (default HOPPER90; e.g. AMPERE80),
# PARITY_JOBS (default 2), PARITY_KOKKOS_WORK (scratch directory, default /tmp/parity-kokkos-cuda, removed
# after a successful install unless PARITY_KEEP_WORK=1).
set -euo pipefail
start=$SECONDS
prefix=${1:-/opt/kokkos-cuda}
root=$(cd "$(dirname "$0")/.." && pwd)
patch_file=$root/ci/patches/kokkos-3.4.01-cuda13.patch
cuda_home=${CUDA_HOME:-/usr/local/cuda}
arch=${KOKKOS_CUDA_ARCH:-HOPPER90}
jobs=${PARITY_JOBS:-2}
work=${PARITY_KOKKOS_WORK:-/tmp/parity-kokkos-cuda}
say() { echo "ci/build-kokkos-cuda.sh: $*"; }

for d in "$prefix"/lib*/cmake/Kokkos; do
  if [ -f "$d/KokkosConfig.cmake" ]; then
    say "Kokkos already installed in $prefix ($d); nothing to do"
    exit 0
  fi
done

if [ ! -x "$cuda_home/bin/nvcc" ]; then
  say "error: no nvcc at $cuda_home/bin/nvcc (set CUDA_HOME to the CUDA toolkit)" >&2
  exit 1
fi

# Debian source packages: enable deb-src for bookworm if no source list is configured yet.
if ! grep -rqs '^[[:space:]]*Types:.*deb-src\|^[[:space:]]*deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  say "enabling deb-src (/etc/apt/sources.list.d/parity-src.sources)"
  cat >/etc/apt/sources.list.d/parity-src.sources <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
fi
# Exit status 3: the source could not be fetched (no network, mirror down) — an environment problem that
# ci/build-cuda.sh reports without failing; anything after the download failing is a real failure (1).
apt-get update -qq || { say "error: apt-get update failed; cannot fetch the trilinos source" >&2; exit 3; }
if ! command -v patch >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends patch
fi

rm -rf "$work"
mkdir -p "$work"
cd "$work"
say "downloading the trilinos source package (~166 MB)"
# -qq: the download runs unsandboxed as root (the _apt user cannot write here); apt says so, harmlessly.
apt-get source --download-only -qq trilinos 2>&1 | grep -v "unsandboxed" || true
orig=$(ls trilinos_*.orig.tar.* 2>/dev/null | head -n1)
if [ -z "$orig" ]; then
  say "error: apt-get source did not fetch trilinos_*.orig.tar.* into $work" >&2
  exit 3
fi
say "extracting packages/kokkos from $orig"
tar xf "$orig" --wildcards '*/packages/kokkos/*'
src=$(ls -d */packages/kokkos | head -n1)
src=$work/$src
if ! grep -q "tag:  3.4.01" "$src/master_history.txt"; then
  say "warning: $orig does not hold Kokkos 3.4.01 (last tag: $(tail -n1 "$src/master_history.txt")); the patch may not apply" >&2
fi
(cd "$src" && patch -p1 --forward --quiet <"$patch_file")
say "patched with ${patch_file#"$root"/}"

# The installed nvcc_wrapper is the compiler Kokkos records (Kokkos_CXX_COMPILER) and the one the parity
# `cuda` preset uses, so build with that very file: nothing in PREFIX refers back to the scratch directory.
mkdir -p "$prefix/bin"
install -m 0755 "$src/bin/nvcc_wrapper" "$prefix/bin/nvcc_wrapper"
export CUDA_ROOT=$cuda_home PATH=$cuda_home/bin:$PATH
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
# (Kokkos's own build never looks for an installed Kokkos, so the system's Serial one cannot interfere here;
# the parity `cuda` preset points Kokkos_ROOT and CMAKE_PREFIX_PATH at PREFIX and checks the backend.)
trap 'rm -rf "$prefix"/lib*/cmake/Kokkos' ERR  # a failed install must not look complete to the next run
cmake -S "$src" -B "$work/build" "${gen[@]}" \
  -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_INSTALL_PREFIX="$prefix" \
  -DCMAKE_CXX_COMPILER="$prefix/bin/nvcc_wrapper" \
  -DCMAKE_CXX_STANDARD=17 -DCMAKE_CXX_EXTENSIONS=OFF \
  -DBUILD_SHARED_LIBS=OFF -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
  -DKokkos_ENABLE_SERIAL=ON -DKokkos_ENABLE_CUDA=ON -DKokkos_ENABLE_CUDA_LAMBDA=ON \
  -DKokkos_ARCH_"$arch"=ON \
  -DKokkos_ENABLE_TESTS=OFF -DKokkos_ENABLE_EXAMPLES=OFF \
  -DCUDAToolkit_ROOT="$cuda_home" >"$work/configure.log" 2>&1 ||
  { tail -n 40 "$work/configure.log" >&2; say "error: Kokkos configure failed (log above)" >&2; exit 1; }
grep -E "^-- (Compiler Version|Found CUDAToolkit|Kokkos Devices)" "$work/configure.log" || true
cmake --build "$work/build" -j "$jobs"
cmake --install "$work/build" >/dev/null
trap - ERR
[ "${PARITY_KEEP_WORK:-0}" = 1 ] || rm -rf "$work"
say "installed Kokkos (CUDA $arch + Serial) in $prefix in $((SECONDS - start)) s"
