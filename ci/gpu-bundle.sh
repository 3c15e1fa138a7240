#!/usr/bin/env bash
# Pack the CUDA build for a GPU machine that has a CUDA runtime (libcudart, cuBLAS, NCCL: a CUDA toolkit or
# PyTorch's nvidia-* wheels) but not this machine's Debian libraries (Open MPI, HDF5, OpenBLAS, ...):
#   BUILD/gpu/bin/{parity,parity_gpu_tests}   the binaries
#   BUILD/gpu/runtime.tar.xz                   their shared libraries except glibc, the CUDA libraries and the
#                                              driver, plus a relocatable Open MPI (singleton runs: plugins
#                                              and help files, used through OPAL_PREFIX)
# ci/gpu-check.sh unpacks and uses it. Carry BUILD/gpu alone (a few tens of MB; the object files stay here).
# Usage: bash ci/gpu-bundle.sh [BUILD]      (default build-cuda)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-cuda}
out=$build/gpu
say() { echo "ci/gpu-bundle.sh: $*"; }
for b in parity parity_gpu_tests; do
  [ -x "$build/$b" ] || { say "error: $build/$b is missing (build the cuda preset first)" >&2; exit 1; }
done
rm -rf "$out"
mkdir -p "$out/bin"
cp "$build/parity" "$build/parity_gpu_tests" "$out/bin/"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
multiarch=lib/x86_64-linux-gnu
ompi_lib=/usr/$multiarch/openmpi/lib
mkdir -p "$stage/lib" "$stage/$multiarch/openmpi/lib" "$stage/share"
# Open MPI's components (dlopened from OPAL_PREFIX/lib/x86_64-linux-gnu/openmpi/lib/openmpi3), without the
# network transports that pull in large libraries (UCX, libfabric, verbs, PSM) and the external PMIx: a
# single-process (singleton) run needs shared memory and self only.
if [ -d "$ompi_lib/openmpi3" ]; then
  mkdir -p "$stage/$multiarch/openmpi/lib/openmpi3"
  for f in "$ompi_lib"/openmpi3/*.so; do
    case $(basename "$f") in
      *ucx* | *ofi* | *openib* | *psm* | *verbs* | *pmix_flux* | *schizo_flux* | *_java*) continue ;;
    esac
    cp -L "$f" "$stage/$multiarch/openmpi/lib/openmpi3/"
  done
  [ -d /usr/share/openmpi ] && cp -a /usr/share/openmpi "$stage/share/"
fi
# Open MPI's launcher and daemon, for several ranks on the GPU machine (relocated by OPAL_PREFIX=<runtime>:
# orterun finds orted in <runtime>/bin).
mkdir -p "$stage/bin"
pmix=/usr/$multiarch/pmix2/lib/pmix  # PMIx's own plugins (found through PMIX_INSTALL_PREFIX=<runtime>)
if [ -d "$pmix" ]; then
  mkdir -p "$stage/$multiarch/pmix2/lib"
  cp -rL "$pmix" "$stage/$multiarch/pmix2/lib/"
fi
for b in orterun orted; do
  [ -x /usr/bin/$b ] && cp -L /usr/bin/$b "$stage/bin/"
done

# The library closure (ldd) of the binaries and of the components, minus glibc, the CUDA runtime libraries
# (from the GPU machine's toolkit, matching its driver) and the driver itself.
skip='^(linux-vdso|ld-linux|libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|libresolv\.so|libutil\.so|libcuda\.so|libcudart|libcublas|libcublasLt|libnccl|libnvidia)'
objects=("$out"/bin/* "$stage"/bin/* "$stage/$multiarch"/openmpi/lib/openmpi3/*.so)
ldd "${objects[@]}" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' | sort -u |
  while read -r name path; do
    [[ $name =~ $skip ]] && continue
    cp -Ln "$path" "$stage/lib/$name"
  done
tar -C "$stage" -cJf "$out/runtime.tar.xz" .
say "$out: $(du -sh "$out" | cut -f1) ($(ls "$stage/lib" | wc -l) libraries, $(ls "$stage/$multiarch/openmpi/lib/openmpi3" 2>/dev/null | wc -l) Open MPI components)"
