// Where the layer kernels run, and what their device forms share.
//
// Every layer kernel has a host form (kernels/*.cpp: parallel_units over the host, AVX-512 where it pays) and
// a device form: a Kokkos kernel on Kokkos::DefaultExecutionSpace — the GPU in the CUDA build, the host's
// default space (Serial or OpenMP) in the CPU build. The public kernel functions pick the form by the
// process-wide target below, so callers (Stage, the trainer) are the same code for both.
//
// Both forms compute the same bits in exact mode: the device forms use the canonical order of
// kernels/canonical.hpp through the device-callable evaluators in parity::dev (no recursion, no allocation,
// no std:: calls), the transcendentals of kernels/vmath.hpp, and only correctly rounded operations (the CUDA
// build passes --fmad=false and keeps nvcc's default IEEE division and square root). The CPU build runs the
// device forms on the host, so ctest checks them against the host forms bit for bit without a GPU
// (suites/unit/test_device_*.cpp, and cli.device trains a whole model both ways).
//
// Memory: a buffer a device kernel touches must be in memory the device can address. unified_alloc gives CUDA
// managed memory in the CUDA build (host code may read and write it too, between kernels) and ordinary host
// memory otherwise. device_for fences after every kernel, so the host never touches managed pages that a
// kernel is still writing.
#pragma once
#include <Kokkos_Core.hpp>

#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

#include "kernels/bf16.hpp"
#include "kernels/canonical.hpp"
#include "kernels/fp16.hpp"
#include "kernels/precision.hpp"
#include "kernels/target.hpp"

namespace parity {

// The process-wide kernel target. Default: host. Set once at start-up (parity train --device), or by tests.
Target kernel_target();
void set_kernel_target(Target t);
inline bool on_device() { return kernel_target() == Target::device; }
// What "device" means in this build: "cuda" (Kokkos CUDA backend) or the host space's name ("serial", ...).
const char* device_space_name();

// Sets the target for one scope and restores the previous one at its end (tests, and callers that need one
// kernel on a given target).
class ScopedTarget {
 public:
  explicit ScopedTarget(Target t) : saved_(kernel_target()) { set_kernel_target(t); }
  ~ScopedTarget() { set_kernel_target(saved_); }
  ScopedTarget(const ScopedTarget&) = delete;
  ScopedTarget& operator=(const ScopedTarget&) = delete;

 private:
  Target saved_;
};

// f(i) for i in [0, n) on the default execution space, then a fence.
template <class F>
inline void device_for(const char* label, long n, const F& f) {
  if (n <= 0) return;
  using Exec = Kokkos::DefaultExecutionSpace;
  Kokkos::parallel_for(label, Kokkos::RangePolicy<Exec, Kokkos::IndexType<long>>(0, n), f);
  Exec().fence();
}

// Memory both the host and the device address (CUDA managed memory in the CUDA build). Throws
// std::bad_alloc when it cannot be had.
void* unified_alloc(std::size_t bytes);
void unified_free(void* p) noexcept;

template <class T>
struct UnifiedAllocator {
  using value_type = T;
  UnifiedAllocator() = default;
  template <class U>
  UnifiedAllocator(const UnifiedAllocator<U>&) {}
  T* allocate(std::size_t n) { return static_cast<T*>(unified_alloc(n * sizeof(T))); }
  void deallocate(T* p, std::size_t) noexcept { unified_free(p); }
  template <class U>
  bool operator==(const UnifiedAllocator<U>&) const { return true; }
  template <class U>
  bool operator!=(const UnifiedAllocator<U>&) const { return false; }
};

// A std::vector in unified memory: what Stage and the trainer keep their tensors in.
template <class T>
using uvector = std::vector<T, UnifiedAllocator<T>>;

// Small device-or-host helpers on unified memory (the target decides where they run).
void fill(float* x, long n, float value);
void copy(float* dst, const float* src, long n);  // dst == src: nothing to do; other overlaps: not allowed
// l[i] = l[i] + r[i]: a node of the elementwise pairwise tree (left + right).
void add_into(float* l, const float* r, long n);
// x[i] = x[i] * s
void scale(float* x, long n, float s);
// out[n*C + c] = out[n*C + c] + row[(n % period)*C + c] for n < N: adds a [period, C] table row by row
// (the position embedding: period T; a bias: period 1).
void add_rows(float* out, const float* row, long N, long C, long period);
// out[u] = block_dot(x + 32u, x + 32u, min(32, n - 32u)): the sums of squares of the 32-element units of the
// gradient norm (reference/ownership.cpp), sequential fma from +0 as canonical.hpp's block_dot.
void block_dots(const float* x, long n, float* out);
// Two-phase canonical sums for the device: a long sum per thread leaves most of a GPU idle (a bias gradient
// is O threads walking N rows), so the 32-element blocks of every sum are summed in parallel first (from +0,
// in order), then one thread per sum combines its blocks with the tree. The same additions in the same order
// as dev::canonical_sum, so the same bits. On the host target they are the host loops.
//   column_sums_2p: out[c] = canonical sum over r < rows of x[r*ld + c], c < width
//   row_sums_2p:    out[r] = canonical sum over i < n of x[r*ld + i], r < rows
//   row_max_2p:     out[r] = max over i < n of x[r*ld + i] in std::max's order (the first of equal maxima: the
//                   block maxima combined in block order give the same element), -inf for n = 0
//   tree_of_leaves: out[j] = the pairwise tree over leaves[j*js + b*bs], b < nb (phase 2 alone, for callers
//                   whose phase 1 computes its terms)
void column_sums_2p(const float* x, long rows, long width, long ld, float* out);
void row_sums_2p(const float* x, long rows, long n, long ld, float* out);
void row_max_2p(const float* x, long rows, long n, long ld, float* out);
void tree_of_leaves(const float* leaves, long count, long nb, long js, long bs, float* out);
// The process-wide unified buffer the two-phase sums keep their block sums in (grown as needed).
float* leaf_scratch(long n);

// 1 if any of x[0, n) is inf or NaN.
bool any_nonfinite(const float* x, long n);

// VecTree (kernels/canonical.hpp) in unified memory, its additions on the kernel target: the trainer's
// micro-batch gradient tree.
struct TargetVecOps {
  static void copy(float* dst, const float* src, long n) { parity::copy(dst, src, n); }
  static void add_into(float* l, const float* r, long n) { parity::add_into(l, r, n); }
};
using UVecTree = VecTreeT<uvector<float>, TargetVecOps>;

namespace dev {

// The canonical order (kernels/canonical.hpp) in a form that device code can call. The pairwise tree over
// n leaves (split at ceil(n/2), left + right) is evaluated as a stream: after leaf i, merge the stack top into
// it tree_merges(i, n) times. tree_merges walks the root-to-leaf path, so no table is needed; the stack holds
// at most log2(n) + 2 partial sums (64 covers any long).
KOKKOS_INLINE_FUNCTION int tree_merges(long i, long n) {
  int k = 0;
  long lo = 0;
  while (n > 1) {
    if (i == lo + n - 1) ++k;  // leaf i completes this node
    const long left = (n + 1) / 2;
    if (i < lo + left) {
      n = left;
    } else {
      lo += left;
      n -= left;
    }
  }
  return k;
}

struct TreeStack {
  float v[64];
  int top = 0;
  long next = 0, n;
  KOKKOS_INLINE_FUNCTION explicit TreeStack(long leaves) : n(leaves) {}
  KOKKOS_INLINE_FUNCTION void push(float leaf) {
    float acc = leaf;
    for (int k = tree_merges(next, n); k > 0; --k) acc = v[--top] + acc;  // left + right
    v[top++] = acc;
    ++next;
  }
  KOKKOS_INLINE_FUNCTION float result() const { return top > 0 ? v[top - 1] : 0.0f; }
};

constexpr long kBlk = 32;  // kernels/canonical.hpp's kBlock

// Canonical sum of f(i), i in [0, n): blocks of 32 summed from +0, blocks combined by the tree.
template <class F>
KOKKOS_INLINE_FUNCTION float canonical_sum_of(long n, const F& f) {
  const long nb = (n + kBlk - 1) / kBlk;
  if (nb <= 1) {
    float s = 0.0f;
    for (long i = 0; i < n; ++i) s = s + f(i);
    return s;
  }
  TreeStack tree(nb);
  for (long b = 0; b < nb; ++b) {
    const long hi = (b + 1) * kBlk < n ? (b + 1) * kBlk : n;
    float s = 0.0f;
    for (long i = b * kBlk; i < hi; ++i) s = s + f(i);
    tree.push(s);
  }
  return tree.result();
}

KOKKOS_INLINE_FUNCTION float canonical_sum(const float* x, long n, long stride = 1) {
  return canonical_sum_of(n, [=](long i) { return x[i * stride]; });
}

// Canonical dot product: fma inside a block (as block_dot), blocks by the tree.
KOKKOS_INLINE_FUNCTION float canonical_dot(const float* x, const float* y, long n, long sx = 1, long sy = 1) {
  const long nb = (n + kBlk - 1) / kBlk;
  if (nb <= 1) {
    float s = 0.0f;
    for (long i = 0; i < n; ++i) s = fmaf(x[i * sx], y[i * sy], s);
    return s;
  }
  TreeStack tree(nb);
  for (long b = 0; b < nb; ++b) {
    const long hi = (b + 1) * kBlk < n ? (b + 1) * kBlk : n;
    float s = 0.0f;
    for (long i = b * kBlk; i < hi; ++i) s = fmaf(x[i * sx], y[i * sy], s);
    tree.push(s);
  }
  return tree.result();
}

// std::max(a, b) as the host kernels call it: (a < b) ? b : a.
KOKKOS_INLINE_FUNCTION float max(float a, float b) { return (a < b) ? b : a; }

// One value rounded to the precision's storage format (round_to's per-element operation).
KOKKOS_INLINE_FUNCTION float round(Precision p, float x) {
  if (p == Precision::bf16) return round_to_bf16(x);
  if (p == Precision::fp16) return round_to_fp16(x);
  return x;
}

}  // namespace dev
}  // namespace parity
