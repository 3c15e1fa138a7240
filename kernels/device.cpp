#include "kernels/device.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <string>

#if defined(PARITY_HAVE_CUDA)
#include <cuda_runtime_api.h>
#endif

namespace parity {

namespace {
std::atomic<Target> g_target{Target::host};
}  // namespace

Target kernel_target() { return g_target.load(std::memory_order_relaxed); }
void set_kernel_target(Target t) { g_target.store(t, std::memory_order_relaxed); }
const char* to_string(Target t) { return t == Target::device ? "device" : "host"; }

const char* device_space_name() {
#if defined(KOKKOS_ENABLE_CUDA)
  if (std::is_same_v<Kokkos::DefaultExecutionSpace, Kokkos::Cuda>) return "cuda";
#endif
#if defined(KOKKOS_ENABLE_OPENMP)
  if (std::is_same_v<Kokkos::DefaultExecutionSpace, Kokkos::OpenMP>) return "openmp";
#endif
  return "serial";
}

void* unified_alloc(std::size_t bytes) {
  if (bytes == 0) bytes = 1;
#if defined(PARITY_HAVE_CUDA)
  void* p = nullptr;
  if (cudaMallocManaged(&p, bytes, cudaMemAttachGlobal) != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky-free error so that later calls are not blamed
    throw std::bad_alloc();
  }
  return p;
#else
  // 64-byte alignment: whole cache lines and AVX-512 vectors.
  void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
  if (!p) throw std::bad_alloc();
  return p;
#endif
}

void unified_free(void* p) noexcept {
  if (!p) return;
#if defined(PARITY_HAVE_CUDA)
  cudaFree(p);
#else
  std::free(p);
#endif
}

void fill(float* x, long n, float value) {
  if (on_device()) {
    device_for("fill", n, KOKKOS_LAMBDA(long i) { x[i] = value; });
    return;
  }
  std::fill(x, x + n, value);
}

void copy(float* dst, const float* src, long n) {
  if (dst == src || n <= 0) return;  // (std::copy onto its own source is undefined)
  if (on_device()) {
    device_for("copy", n, KOKKOS_LAMBDA(long i) { dst[i] = src[i]; });
    return;
  }
  std::copy(src, src + n, dst);
}

void add_into(float* l, const float* r, long n) {
  if (on_device()) {
    device_for("add_into", n, KOKKOS_LAMBDA(long i) { l[i] = l[i] + r[i]; });
    return;
  }
  for (long i = 0; i < n; ++i) l[i] = l[i] + r[i];
}

void scale(float* x, long n, float s) {
  if (on_device()) {
    device_for("scale", n, KOKKOS_LAMBDA(long i) { x[i] = x[i] * s; });
    return;
  }
  for (long i = 0; i < n; ++i) x[i] = x[i] * s;
}

void add_rows(float* out, const float* row, long N, long C, long period) {
  if (on_device()) {
    device_for("add_rows", N * C, KOKKOS_LAMBDA(long i) {
      const long n = i / C, c = i % C;
      out[i] = out[i] + row[(n % period) * C + c];
    });
    return;
  }
  for (long n = 0; n < N; ++n) {
    const float* r = row + (n % period) * C;
    float* o = out + n * C;
    for (long c = 0; c < C; ++c) o[c] = o[c] + r[c];
  }
}

void block_dots(const float* x, long n, float* out) {
  const long nu = (n + kBlock - 1) / kBlock;
  if (on_device()) {
    device_for("block_dots", nu, KOKKOS_LAMBDA(long u) {
      const long lo = u * dev::kBlk, hi = lo + dev::kBlk < n ? lo + dev::kBlk : n;
      float s = 0.0f;
      for (long i = lo; i < hi; ++i) s = fmaf(x[i], x[i], s);
      out[u] = s;
    });
    return;
  }
  for (long u = 0; u < nu; ++u) out[u] = block_dot(x + u * kBlock, x + u * kBlock, std::min(kBlock * 1L, n - u * kBlock));
}

float* leaf_scratch(long n) {
  static uvector<float> buf;
  if (static_cast<long>(buf.size()) < n) buf.resize(n);
  return buf.data();
}

namespace {
KOKKOS_INLINE_FUNCTION float tree_of(const float* leaves, long nb, long bs) {
  dev::TreeStack tree(nb);
  for (long b = 0; b < nb; ++b) tree.push(leaves[b * bs]);
  return tree.result();
}
}  // namespace

void tree_of_leaves(const float* leaves, long count, long nb, long js, long bs, float* out) {
  if (on_device()) {
    device_for("tree_of_leaves", count, KOKKOS_LAMBDA(long j) { out[j] = tree_of(leaves + j * js, nb, bs); });
    return;
  }
  for (long j = 0; j < count; ++j) out[j] = tree_of(leaves + j * js, nb, bs);
}

void column_sums_2p(const float* x, long rows, long width, long ld, float* out) {
  if (!on_device()) {
    column_sums(x, rows, width, ld, out);
    return;
  }
  const long nb = (rows + kBlock - 1) / kBlock;
  float* leaves = leaf_scratch(nb * width);  // [nb, width]
  device_for("column_block_sums", nb * width, KOKKOS_LAMBDA(long i) {
    const long b = i / width, c = i % width, hi = (b + 1) * dev::kBlk < rows ? (b + 1) * dev::kBlk : rows;
    float s = 0.0f;
    for (long r = b * dev::kBlk; r < hi; ++r) s = s + x[r * ld + c];
    leaves[i] = s;
  });
  tree_of_leaves(leaves, width, nb, 1, width, out);
}

void row_sums_2p(const float* x, long rows, long n, long ld, float* out) {
  const long nb = (n + kBlock - 1) / kBlock;
  if (!on_device()) {
    for (long r = 0; r < rows; ++r) out[r] = canonical_sum(x + r * ld, n);
    return;
  }
  float* leaves = leaf_scratch(rows * nb);  // [rows, nb]
  device_for("row_block_sums", rows * nb, KOKKOS_LAMBDA(long i) {
    const long r = i / nb, b = i % nb, hi = (b + 1) * dev::kBlk < n ? (b + 1) * dev::kBlk : n;
    float s = 0.0f;
    for (long k = b * dev::kBlk; k < hi; ++k) s = s + x[r * ld + k];
    leaves[i] = s;
  });
  tree_of_leaves(leaves, rows, nb, nb, 1, out);
}

void row_max_2p(const float* x, long rows, long n, long ld, float* out) {
  const long nb = (n + kBlock - 1) / kBlock;
  if (!on_device()) {
    for (long r = 0; r < rows; ++r) {
      float m = -INFINITY;
      for (long k = 0; k < n; ++k) m = std::max(m, x[r * ld + k]);
      out[r] = m;
    }
    return;
  }
  float* leaves = leaf_scratch(rows * nb);
  device_for("row_block_max", rows * nb, KOKKOS_LAMBDA(long i) {
    const long r = i / nb, b = i % nb, hi = (b + 1) * dev::kBlk < n ? (b + 1) * dev::kBlk : n;
    float m = -INFINITY;
    for (long k = b * dev::kBlk; k < hi; ++k) m = dev::max(m, x[r * ld + k]);
    leaves[i] = m;
  });
  device_for("row_max", rows, KOKKOS_LAMBDA(long r) {
    float m = -INFINITY;
    for (long b = 0; b < nb; ++b) m = dev::max(m, leaves[r * nb + b]);
    out[r] = m;
  });
}

bool any_nonfinite(const float* x, long n) {
  if (on_device()) {
    long bad = 0;
    using Exec = Kokkos::DefaultExecutionSpace;
    Kokkos::parallel_reduce(
        "any_nonfinite", Kokkos::RangePolicy<Exec, Kokkos::IndexType<long>>(0, n),
        KOKKOS_LAMBDA(long i, long& b) {  // a count (a sum: identity 0, unlike Max's INT_MIN)
          const uint32_t u = half_detail::bits_of(x[i]);
          if ((u & 0x7F800000u) == 0x7F800000u) b += 1;
        },
        bad);
    Exec().fence();
    return bad != 0;
  }
  for (long i = 0; i < n; ++i)
    if (!std::isfinite(x[i])) return true;
  return false;
}

}  // namespace parity
