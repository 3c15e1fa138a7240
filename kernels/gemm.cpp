// GEMM kernels: exact mode follows the canonical order (canonical.hpp) at BLAS speed; fast mode calls BLAS.
//
// Exact mode computes Y[m][n] = sum over r of A(m, r) * B(n, r) with one register tile of kMr x kNr outputs
// per task. The tile walks the whole reduction: for each block of 32 consecutive r it runs the block's
// sequential FMAs into zeroed registers, then folds the block result into the pairwise tree, evaluated in
// post-order (tree_merge_counts) with a small stack of partial tiles that stays in L1. Each output element
// is produced by exactly one task from the same sequence of operations as canonical_dot, so the bits do
// not depend on tiling, edge padding or thread count. Operands are first packed into panels ([R][kMr] for
// A, [R][kNr] for B, zero-padded past the matrix edge) so that the inner loop reads them contiguously.
#include "kernels/gemm.hpp"

#include <Kokkos_Core.hpp>
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <vector>

#include "kernels/canonical.hpp"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace parity {
namespace {

constexpr int kMr = 6;   // rows of the register tile
constexpr int kNr = 32;  // columns of the register tile: two 16-float vectors
// Bound on the post-order stack depth (ceil(log2(blocks)) + 1); 48 levels cover any reduction length.
constexpr int kMaxDepth = 48;

using HostPolicy = Kokkos::RangePolicy<Kokkos::DefaultHostExecutionSpace>;

// A strided matrix operand: element (i, r) is p[i * si + r * sr], i an output index, r the reduction index.
struct Operand {
  const float* p;
  long si, sr;
};

// A growable 64-byte-aligned buffer. Kept thread_local by the callers so steady-state calls do not allocate.
class Scratch {
 public:
  float* get(size_t n) {
    if (n > cap_) {
      const size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
      float* p = static_cast<float*>(std::aligned_alloc(64, bytes));
      if (!p) throw std::bad_alloc();
      ptr_.reset(p);
      cap_ = n;
    }
    return ptr_.get();
  }

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float, Free> ptr_;
  size_t cap_ = 0;
};

// Copies rows [i0, i0 + W) of op, over the whole reduction, to dst[r * W + w]; rows at or past n become 0.
template <int W>
void pack_panel(const Operand& op, long i0, long n, long R, float* __restrict dst) {
  const long valid = std::min<long>(W, n - i0);
  if (op.si == 1) {  // the panel's rows are adjacent in memory: copy runs of `valid` floats
    for (long r = 0; r < R; ++r) {
      const float* src = op.p + i0 + r * op.sr;
      float* d = dst + r * W;
      for (long w = 0; w < valid; ++w) d[w] = src[w];
      for (long w = valid; w < W; ++w) d[w] = 0.0f;
    }
    return;
  }
  // Transpose, a chunk of the reduction at a time so that the W source runs and the destination stay in L1.
  constexpr long kChunk = 64;
  for (long r0 = 0; r0 < R; r0 += kChunk) {
    const long len = std::min(kChunk, R - r0);
    for (long w = 0; w < W; ++w) {
      float* d = dst + r0 * W + w;
      if (w < valid) {
        const float* src = op.p + (i0 + w) * op.si + r0 * op.sr;
        for (long r = 0; r < len; ++r) d[r * W] = src[r * op.sr];
      } else {
        for (long r = 0; r < len; ++r) d[r * W] = 0.0f;
      }
    }
  }
}

// The register tile and its operations. Both variants perform the same IEEE operations in the same order
// per element (fma for block terms, + for tree merges and bias), so they give the same bits.
#if defined(__AVX512F__)

struct Tile {
  __m512 c[kMr][2];  // row i, columns 16h .. 16h+15
};

inline void tile_zero(Tile& t) {
  for (int i = 0; i < kMr; ++i) t.c[i][0] = t.c[i][1] = _mm512_setzero_ps();
}

// `len` sequential reduction steps: c[i][j] = fma(a[k][i], b[k][j], c[i][j]) for k = 0 .. len-1.
template <long kLen>
inline void tile_fma(Tile& t, const float* __restrict a, const float* __restrict b, long len = kLen) {
#pragma GCC unroll 8
  for (long k = 0; k < (kLen ? kLen : len); ++k) {
    const __m512 b0 = _mm512_load_ps(b + k * kNr);
    const __m512 b1 = _mm512_load_ps(b + k * kNr + 16);
#pragma GCC unroll 6
    for (int i = 0; i < kMr; ++i) {
      const __m512 ai = _mm512_set1_ps(a[k * kMr + i]);
      t.c[i][0] = _mm512_fmadd_ps(ai, b0, t.c[i][0]);
      t.c[i][1] = _mm512_fmadd_ps(ai, b1, t.c[i][1]);
    }
  }
}

// c = left + c, where left is a stacked partial tile (the tree's left operand).
inline void tile_merge(Tile& t, const float* __restrict left) {
  for (int i = 0; i < kMr; ++i) {
    t.c[i][0] = _mm512_add_ps(_mm512_load_ps(left + i * kNr), t.c[i][0]);
    t.c[i][1] = _mm512_add_ps(_mm512_load_ps(left + i * kNr + 16), t.c[i][1]);
  }
}

inline void tile_push(const Tile& t, float* __restrict slot) {
  for (int i = 0; i < kMr; ++i) {
    _mm512_store_ps(slot + i * kNr, t.c[i][0]);
    _mm512_store_ps(slot + i * kNr + 16, t.c[i][1]);
  }
}

// Writes the first rows x cols of the tile to y (leading dimension ldy), adding bias[j] if given.
inline void tile_store(const Tile& t, const float* bias, float* y, long ldy, int rows, int cols) {
  const __mmask16 m0 = cols >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << cols) - 1);
  const __mmask16 m1 = cols >= 32 ? 0xFFFF : cols > 16 ? static_cast<__mmask16>((1u << (cols - 16)) - 1) : 0;
  const __m512 b0 = bias ? _mm512_maskz_loadu_ps(m0, bias) : _mm512_setzero_ps();
  const __m512 b1 = bias ? _mm512_maskz_loadu_ps(m1, bias + 16) : _mm512_setzero_ps();
  for (int i = 0; i < kMr; ++i) {
    if (i >= rows) break;
    // Adding a zero bias would turn -0 into +0, so the bias add happens only when there is a bias.
    const __m512 c0 = bias ? _mm512_add_ps(t.c[i][0], b0) : t.c[i][0];
    const __m512 c1 = bias ? _mm512_add_ps(t.c[i][1], b1) : t.c[i][1];
    _mm512_mask_storeu_ps(y + i * ldy, m0, c0);
    _mm512_mask_storeu_ps(y + i * ldy + 16, m1, c1);
  }
}

#else  // portable fallback: the same operations with std::fma on scalars

struct Tile {
  float c[kMr * kNr];
};

inline void tile_zero(Tile& t) { std::fill(t.c, t.c + kMr * kNr, 0.0f); }

template <long kLen>
inline void tile_fma(Tile& t, const float* __restrict a, const float* __restrict b, long len = kLen) {
  for (long k = 0; k < (kLen ? kLen : len); ++k)
    for (int i = 0; i < kMr; ++i)
      for (int j = 0; j < kNr; ++j)
        t.c[i * kNr + j] = std::fma(a[k * kMr + i], b[k * kNr + j], t.c[i * kNr + j]);
}

inline void tile_merge(Tile& t, const float* __restrict left) {
  for (int e = 0; e < kMr * kNr; ++e) t.c[e] = left[e] + t.c[e];
}

inline void tile_push(const Tile& t, float* __restrict slot) { std::copy(t.c, t.c + kMr * kNr, slot); }

inline void tile_store(const Tile& t, const float* bias, float* y, long ldy, int rows, int cols) {
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) y[i * ldy + j] = bias ? t.c[i * kNr + j] + bias[j] : t.c[i * kNr + j];
}

#endif

// One output tile over the whole reduction R >= 1: a = packed [R][kMr], b = packed [R][kNr],
// merges = tree_merge_counts(num_blocks(R)). Writes rows x cols outputs to y.
void exact_tile(const float* __restrict a, const float* __restrict b, long R, const uint8_t* merges,
                const float* bias, float* y, long ldy, int rows, int cols) {
  alignas(64) float stack[kMaxDepth][kMr * kNr];
  int top = -1;
  Tile t;
  const long nb = num_blocks(R);
  for (long blk = 0; blk < nb; ++blk) {
    tile_zero(t);
    const long len = std::min<long>(kBlock, R - blk * kBlock);
    if (len == kBlock)
      tile_fma<kBlock>(t, a, b);
    else
      tile_fma<0>(t, a, b, len);  // the last block of a ragged reduction has fewer terms, not zero terms
    a += len * kMr;
    b += len * kNr;
    for (int m = 0; m < merges[blk]; ++m) tile_merge(t, stack[top--]);
    if (blk + 1 < nb) tile_push(t, stack[++top]);
  }
  tile_store(t, bias, y, ldy, rows, cols);
}

// Y[m][n] (leading dimension Nc) = canonical sum over r of A(m, r) * B(n, r), plus bias[n] if given.
void exact_gemm(const Operand& A, const Operand& B, const float* bias, float* Y, long M, long Nc, long R) {
  if (M <= 0 || Nc <= 0) return;
  if (R <= 0) {  // empty reduction: canonical_dot gives +0
    for (long m = 0; m < M; ++m)
      for (long n = 0; n < Nc; ++n) Y[m * Nc + n] = bias ? 0.0f + bias[n] : 0.0f;
    return;
  }
  const long slivers = (M + kMr - 1) / kMr;
  const long panels = (Nc + kNr - 1) / kNr;
  thread_local Scratch apack, bpack;
  thread_local std::vector<uint8_t> merge_counts;
  float* a = apack.get(static_cast<size_t>(slivers * R * kMr));
  float* b = bpack.get(static_cast<size_t>(panels * R * kNr));
  tree_merge_counts(num_blocks(R), merge_counts);
  const uint8_t* merges = merge_counts.data();

  Kokkos::parallel_for("parity::gemm_pack_a", HostPolicy(0, slivers),
                       [=](long s) { pack_panel<kMr>(A, s * kMr, M, R, a + s * R * kMr); });
  Kokkos::parallel_for("parity::gemm_pack_b", HostPolicy(0, panels),
                       [=](long p) { pack_panel<kNr>(B, p * kNr, Nc, R, b + p * R * kNr); });
  // Consecutive tasks share one B panel (R x 32 floats), which stays in L2 while the A slivers stream by.
  Kokkos::parallel_for("parity::gemm_tiles", HostPolicy(0, slivers * panels), [=](long task) {
    const long p = task / slivers, s = task % slivers;
    const int rows = static_cast<int>(std::min<long>(kMr, M - s * kMr));
    const int cols = static_cast<int>(std::min<long>(kNr, Nc - p * kNr));
    exact_tile(a + s * R * kMr, b + p * R * kNr, R, merges, bias ? bias + p * kNr : nullptr,
               Y + s * kMr * Nc + p * kNr, Nc, rows, cols);
  });
  Kokkos::DefaultHostExecutionSpace().fence();
}

void add_bias(const float* bias, float* Y, long N, long O) {
  for (long n = 0; n < N; ++n)
    for (long o = 0; o < O; ++o) Y[n * O + o] += bias[o];
}

}  // namespace

void gemm_xwt(Numerics num, const float* X, const float* W, const float* bias, float* Y, long N, long K, long O) {
  if (num == Numerics::exact || K <= 0) {  // an empty reduction is the same in both numerics
    exact_gemm({X, K, 1}, {W, K, 1}, bias, Y, N, O, K);
    return;
  }
  if (N <= 0 || O <= 0) return;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, O, K, 1.0f, X, K, W, K, 0.0f, Y, O);
  if (bias) add_bias(bias, Y, N, O);
}

void gemm_dyw(Numerics num, const float* dY, const float* W, float* dX, long N, long O, long K) {
  if (num == Numerics::exact || O <= 0) {
    exact_gemm({dY, O, 1}, {W, 1, K}, nullptr, dX, N, K, O);
    return;
  }
  if (N <= 0 || K <= 0) return;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, K, O, 1.0f, dY, O, W, K, 0.0f, dX, K);
}

void gemm_dytx(Numerics num, const float* dY, const float* X, float* dW, long N, long O, long K) {
  if (num == Numerics::exact || N <= 0) {
    exact_gemm({dY, 1, O}, {X, 1, K}, nullptr, dW, O, K, N);
    return;
  }
  if (O <= 0 || K <= 0) return;
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, O, K, N, 1.0f, dY, O, X, K, 0.0f, dW, K);
}

}  // namespace parity
