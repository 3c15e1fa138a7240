// GEMM kernels: exact mode follows the canonical order (canonical.hpp) at BLAS speed; fast mode calls BLAS.
//
// Exact mode computes Y[m][n] = sum over r of A(m, r) * B(n, r) with one register tile of kMr x kNr outputs
// per task. The tile walks its reduction in order: for each block of 32 consecutive r it runs the block's
// sequential FMAs into zeroed registers, then folds the block result into the pairwise tree, evaluated in
// post-order (tree_merge_counts) with a small stack of partial tiles in L1; only the tree's top is in
// registers. Each output element is produced by exactly one task from the same sequence of operations as
// canonical_dot, so the bits do not depend on tiling, edge padding or thread count. Operands are packed
// into panels ([r][kMr] for A, [r][kNr] for B, zero-padded past the matrix edge; padding only ever feeds
// outputs that are not stored) so that the inner loop reads them contiguously.
//
// Device forms (kernel target device, kernels/device.hpp): exact mode runs one thread per output element,
// each a dev::canonical_dot over the reduction (the same operations in the same order as the host tiles, so
// the same bits); consecutive thread indices write consecutive elements of an output row. Fast mode on the
// device calls cuBLAS SGEMM (fp32, no TF32) in the CUDA build; in the CPU build it is the host BLAS path.
#include "kernels/gemm.hpp"

#include <Kokkos_Core.hpp>
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/canonical.hpp"
#include "kernels/device.hpp"
#include "kernels/parallel.hpp"

#if defined(PARITY_HAVE_CUDA)
#include "kernels/cuda/gemm_cublas.hpp"
#endif

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace parity {
namespace {

constexpr int kMr = 6;   // rows of the register tile
constexpr int kNr = 32;  // columns of the register tile: two 16-float vectors
// Bound on the post-order stack depth (ceil(log2(blocks)) + 1); 48 levels cover any reduction length.
constexpr int kMaxDepth = 48;


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

#if defined(__AVX512F__)

// Transposes the 16 x 16 block in v: on return v[j] holds element j of each of the 16 input vectors.
inline void transpose16(__m512 v[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(v[i], v[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(v[i], v[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    v[i] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    v[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    v[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    v[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 16; i += 8)
    for (int c = 0; c < 4; ++c) {
      t[i + c] = _mm512_shuffle_f32x4(v[i + c], v[i + c + 4], 0x88);
      t[i + c + 4] = _mm512_shuffle_f32x4(v[i + c], v[i + c + 4], 0xdd);
    }
  for (int i = 0; i < 8; ++i) {
    v[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    v[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
  }
}

// pack_panels for op.sr == 1: 16 x 16 register transposes, with masked loads for a ragged end of the reduction.
template <int W>
void pack_transposed(const Operand& op, long i0, long valid, long R, float* __restrict dst) {
  for (int w0 = 0; w0 < W; w0 += 16) {
    const int rows = std::min(16, W - w0);
    const __mmask16 store_mask = static_cast<__mmask16>((1u << rows) - 1);
    for (long r0 = 0; r0 < R; r0 += 16) {
      const long len = std::min<long>(16, R - r0);
      const __mmask16 load_mask = static_cast<__mmask16>((1u << len) - 1);
      __m512 v[16];
      for (int w = 0; w < 16; ++w)
        v[w] = w < rows && w0 + w < valid ? _mm512_maskz_loadu_ps(load_mask, op.p + (i0 + w0 + w) * op.si + r0)
                                          : _mm512_setzero_ps();
      transpose16(v);
      for (int j = 0; j < 16; ++j)
        if (j < len) _mm512_mask_storeu_ps(dst + (r0 + j) * W + w0, store_mask, v[j]);
    }
  }
}

#else

// pack_panels for op.sr == 1, a chunk of the reduction at a time so that the source runs stay in L1.
template <int W>
void pack_transposed(const Operand& op, long i0, long valid, long R, float* __restrict dst) {
  constexpr long kChunk = 64;
  for (long r0 = 0; r0 < R; r0 += kChunk) {
    const long len = std::min(kChunk, R - r0);
    for (long w = 0; w < W; ++w) {
      float* d = dst + r0 * W + w;
      const float* src = op.p + (i0 + w) * op.si + r0;
      for (long r = 0; r < len; ++r) d[r * W] = w < valid ? src[r] : 0.0f;
    }
  }
}

#endif

#if defined(__AVX512F__)

// Copies 8 runs of W floats, s + j*ld for j < 8, to d[8][W]. A narrow run (W < 16) is put into place with
// masked loads so that the destination is written in whole vectors: lane l of vector v is run (16v + l) / W,
// float (16v + l) % W.
template <int W>
inline void copy_runs8(const float* s, long ld, float* __restrict d) {
  if constexpr (W % 16 == 0) {
    for (int j = 0; j < 8; ++j)
      for (int v = 0; v < W; v += 16) _mm512_storeu_ps(d + j * W + v, _mm512_loadu_ps(s + j * ld + v));
  } else {
    static_assert(8 * W % 16 == 0, "8 runs must fill whole vectors");
    for (int v = 0; v < W / 2; ++v) {
      __m512 x = _mm512_setzero_ps();
      for (int j = 0; j < 8; ++j) {
        const int lo = std::max(j * W, 16 * v), hi = std::min(j * W + W, 16 * v + 16);
        if (lo >= hi) continue;
        const auto lanes = static_cast<__mmask16>(((1u << (hi - lo)) - 1) << (lo - 16 * v));
        x = _mm512_mask_loadu_ps(x, lanes, s + j * ld + (16 * v - j * W));
      }
      _mm512_storeu_ps(d + 16 * v, x);
    }
  }
}

#else

template <int W>
inline void copy_runs8(const float* s, long ld, float* __restrict d) {
  for (int j = 0; j < 8; ++j) std::memcpy(d + j * W, s + j * ld, W * sizeof(float));
}

#endif

// Packs `count` panels of W rows of op, starting at row i0, over the reduction [0, R): panel q holds rows
// i0 + qW .. i0 + qW + W-1 as dst[q][r][w] (dst + q*R*W + r*W + w); rows at or past n become 0.
template <int W>
void pack_panels(const Operand& op, long i0, long count, long n, long R, float* dst) {
  if (op.sr == 1) {  // each row runs along the reduction: transpose panel by panel
    parallel_units("parity::gemm_pack_transposed", count, [=](long q) {
      const long row = i0 + q * W;
      pack_transposed<W>(op, row, std::min<long>(W, n - row), R, dst + q * R * W);
    });
    return;
  }
  if (op.si != 1) {  // neither stride is 1 (gemm_strided allows any strides): element by element
    parallel_units("parity::gemm_pack_strided", count, [=](long q) {
      float* d = dst + q * R * W;
      for (long r = 0; r < R; ++r)
        for (long w = 0; w < W; ++w) {
          const long row = i0 + q * W + w;
          d[r * W + w] = row < n ? op.p[row * op.si + r * op.sr] : 0.0f;
        }
    });
    return;
  }
  // Otherwise op.si == 1: reduction index r selects a contiguous run of
  // count * W rows. Walk r in the outer loop so the source is read in whole runs (a strided read of W floats
  // per r and panel is latency-bound when the runs are far apart).
  constexpr long kPiece = 64;  // reduction indices per task, a multiple of 8
  constexpr long kAhead = 8;   // prefetch distance, in reduction indices
  parallel_units("parity::gemm_pack_rows", (R + kPiece - 1) / kPiece, [=](long piece) {
    const long r1 = std::min(R, (piece + 1) * kPiece);
    for (long r = piece * kPiece; r < r1; r += 8) {
      const long rows = std::min(8L, r1 - r);
      const float* src = op.p + i0 + r * op.sr;
      // Runs are typically far apart (a row of dY per r), which the hardware prefetchers do not follow.
      for (long j = 0; j < rows; ++j)
        if (r + j + kAhead < R)
          for (long f = 0; f < std::min(count * W, n - i0); f += 16)
            __builtin_prefetch(src + (j + kAhead) * op.sr + f);
      for (long q = 0; q < count; ++q) {
        float* __restrict d = dst + q * R * W + r * W;
        const float* s = src + q * W;
        const long valid = std::min<long>(W, n - i0 - q * W);
        if (valid == W && rows == 8) {
          copy_runs8<W>(s, op.sr, d);
        } else {
          for (long j = 0; j < rows; ++j)
            for (int w = 0; w < W; ++w) d[j * W + w] = w < valid ? s[j * op.sr + w] : 0.0f;
        }
      }
    }
  });
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

// Stack depth that the post-order walk over `merges` needs (ceil(log2(blocks)) + 1 at most).
int tree_depth(const std::vector<uint8_t>& merges) {
  int size = 0, depth = 0;
  for (uint8_t m : merges) {
    size = size - m + 1;
    depth = std::max(depth, size);
  }
  return depth;
}

// Blocks [blk0, blk1) of one output tile's reduction of length R: a and b are the packed panels of those
// blocks ([len][kMr] and [len][kNr]), merges = tree_merge_counts(num_blocks(R)). The tree's partial tiles
// live in stack (kMr * kNr floats per slot) with top as its top slot, so a later call can resume where this
// one stopped. After the reduction's last block the tile, plus bias, goes to y (rows x cols of it).
void exact_tile(const float* __restrict a, const float* __restrict b, long blk0, long blk1, long R,
                const uint8_t* merges, float* __restrict stack, int& top, const float* bias, float* y, long ldy,
                int rows, int cols) {
  constexpr int kSlot = kMr * kNr;
  const long nb = num_blocks(R);
  Tile t;
  for (long blk = blk0; blk < blk1; ++blk) {
    tile_zero(t);
    const long len = std::min<long>(kBlock, R - blk * kBlock);
    if (len == kBlock)
      tile_fma<kBlock>(t, a, b);
    else
      tile_fma<0>(t, a, b, len);  // the last block of a ragged reduction has fewer terms, not zero terms
    a += len * kMr;
    b += len * kNr;
    for (int m = 0; m < merges[blk]; ++m) tile_merge(t, stack + kSlot * top--);
    if (blk + 1 < nb) tile_push(t, stack + kSlot * ++top);
  }
  if (blk1 == nb) tile_store(t, bias, y, ldy, rows, cols);
}

// Y[m][n] (leading dimension ldy) = canonical sum over r of A(m, r) * B(n, r), plus bias[n] if given.
//
// Blocking, as in GotoBLAS but with no blocking that would change the order of operations: the reduction is
// cut into chunks of whole 32-blocks, so a chunk's B panels ([kc][32] each) sit in L2; within a chunk the rows
// are taken kc x (slivers of 6) at a time so that the A block sits in L2 too while every B panel passes over
// it. A reduction longer than one chunk parks each tile's tree stack in memory between chunks.
void exact_gemm(const Operand& A, const Operand& B, const float* bias, float* Y, long M, long Nc, long R,
                long ldy) {
  constexpr long kChunkBlocks = 64;            // reduction chunk, in 32-blocks
  constexpr long kABlockBytes = 384 * 1024;    // target size of the packed A block
  constexpr int kSlot = kMr * kNr;
  if (M <= 0 || Nc <= 0) return;
  if (R <= 0) {  // empty reduction: canonical_dot gives +0
    for (long m = 0; m < M; ++m)
      for (long n = 0; n < Nc; ++n) Y[m * ldy + n] = bias ? 0.0f + bias[n] : 0.0f;
    return;
  }
  const long slivers = (M + kMr - 1) / kMr;
  const long panels = (Nc + kNr - 1) / kNr;
  const long nb = num_blocks(R);
  const long chunk_blocks = std::min(nb, kChunkBlocks);
  const long kc = std::min(R, chunk_blocks * kBlock);
  const long block_slivers = std::clamp(kABlockBytes / long(kc * kMr * sizeof(float)), 1L, slivers);

  thread_local Scratch apack, bpack, parked;
  thread_local std::vector<uint8_t> merge_counts;
  thread_local std::vector<int> parked_tops;
  tree_merge_counts(nb, merge_counts);
  const uint8_t* merges = merge_counts.data();
  const int depth = tree_depth(merge_counts);
  float* a = apack.get(static_cast<size_t>(block_slivers * kc * kMr));
  float* b = bpack.get(static_cast<size_t>(panels * kc * kNr));
  const bool chunked = chunk_blocks < nb;
  float* stacks = chunked ? parked.get(static_cast<size_t>(slivers * panels * depth * kSlot)) : nullptr;
  if (chunked) parked_tops.assign(slivers * panels, -1);
  int* tops = parked_tops.data();

  for (long blk0 = 0; blk0 < nb; blk0 += chunk_blocks) {
    const long blk1 = std::min(nb, blk0 + chunk_blocks);
    const long r0 = blk0 * kBlock, rc = std::min(R, blk1 * kBlock) - r0;
    const Operand Ac{A.p + r0 * A.sr, A.si, A.sr}, Bc{B.p + r0 * B.sr, B.si, B.sr};
    pack_panels<kNr>(Bc, 0, panels, Nc, rc, b);
    for (long s0 = 0; s0 < slivers; s0 += block_slivers) {
      const long ns = std::min(block_slivers, slivers - s0);
      pack_panels<kMr>(Ac, s0 * kMr, ns, M, rc, a);
      // Consecutive tasks share one B panel, which stays in L1/L2 while the block's slivers pass by.
      parallel_units("parity::gemm_tiles", ns * panels, [=](long task) {
        const long p = task / ns, s = s0 + task % ns;
        const int rows = static_cast<int>(std::min<long>(kMr, M - s * kMr));
        const int cols = static_cast<int>(std::min<long>(kNr, Nc - p * kNr));
        const float* tile_bias = bias ? bias + p * kNr : nullptr;
        float* y = Y + s * kMr * ldy + p * kNr;
        const float* ta = a + (s - s0) * rc * kMr;
        const float* tb = b + p * rc * kNr;
        if (chunked) {
          const long tile = s * panels + p;
          exact_tile(ta, tb, blk0, blk1, R, merges, stacks + tile * depth * kSlot, tops[tile], tile_bias, y, ldy,
                     rows, cols);
        } else {
          alignas(64) float stack[kMaxDepth * kSlot];
          int top = -1;
          exact_tile(ta, tb, blk0, blk1, R, merges, stack, top, tile_bias, y, ldy, rows, cols);
        }
      });
    }
  }
  Kokkos::DefaultHostExecutionSpace().fence();
}

}  // namespace

namespace devk {

// Y[m * ldy + n] = canonical_dot over r < R of A(m, r) · B(n, r), then + bias[n] if bias != nullptr: what
// exact_gemm computes (an empty reduction gives +0, then + bias), one thread per output element.
void exact_gemm_device(const float* a, long asi, long asr, const float* b, long bsi, long bsr, const float* bias,
                       float* Y, long ldy, long M, long N, long R) {
  if (M <= 0 || N <= 0) return;
  device_for("parity::gemm_exact_device", M * N, KOKKOS_LAMBDA(long i) {
    const long m = i / N, n = i - m * N;
    float y = dev::canonical_dot(a + m * asi, b + n * bsi, R, asr, bsr);
    if (bias) y = y + bias[n];
    Y[m * ldy + n] = y;
  });
}

// Y = X·Wᵀ (+ bias) on the device. The kernel above has consecutive threads on consecutive outputs n, so it
// reads B(n, r) coalesced only when B's output stride is 1; W [O, K] has it K. So W is first transposed into
// a [K, O] scratch (the same values: the products and their order, hence the bits, do not change).
void xwt_exact_device(const float* X, const float* W, const float* bias, float* Y, long N, long K, long O) {
  static uvector<float> wt_buf;
  wt_buf.resize(static_cast<size_t>(K * O));
  float* wt = wt_buf.data();
  device_for("parity::gemm_transpose_w", K * O, KOKKOS_LAMBDA(long i) {
    const long k = i / O, o = i - k * O;
    wt[i] = W[o * K + k];
  });
  exact_gemm_device(X, K, 1, wt, 1, O, bias, Y, O, N, O, K);
}

#if defined(PARITY_HAVE_CUDA)
// The process-wide cuBLAS handle for fast GEMMs on the device (created on first use, never destroyed: its
// destructor would run after the CUDA runtime has gone at exit).
cuda::CublasGemm& cublas() {
  static cuda::CublasGemm* g = new cuda::CublasGemm();
  return *g;
}

// The operand in the fast-GEMM precision: itself (fp32), or converted to bf16/fp16 in device buffer `slot`
// (grown as needed, never freed). The trainer's 16-bit operands already hold 16-bit values, so the
// conversion is exact and cuBLAS's tensor cores see exactly what the host GEMM multiplies.
const void* operand16(const float* src, long n, int slot) {
  const Precision p = fast_gemm_precision();
  if (p == Precision::fp32) return src;
  static void* buf[2] = {nullptr, nullptr};
  static long cap[2] = {0, 0};
  if (n > cap[slot]) {
    if (buf[slot]) cudaFree(buf[slot]);
    buf[slot] = nullptr;
    if (cudaMalloc(&buf[slot], n * cuda::element_bytes(p)) != cudaSuccess) {
      cap[slot] = 0;
      throw std::runtime_error("cudaMalloc of a 16-bit GEMM operand (" + std::to_string(n) + " elements) failed");
    }
    cap[slot] = n;
  }
  cuda::convert_from_float(p, src, buf[slot], n, cublas().stream());
  return buf[slot];
}

void cublas_sync() {
  const cudaError_t e = cudaStreamSynchronize(cublas().stream());
  if (e != cudaSuccess) throw std::runtime_error(std::string("cudaStreamSynchronize after cuBLAS GEMM failed: ") +
                                                 cudaGetErrorString(e));
}
#endif

}  // namespace devk

namespace {
Precision g_fast_gemm_precision = Precision::fp32;
}  // namespace
void set_fast_gemm_precision(Precision p) { g_fast_gemm_precision = p; }
Precision fast_gemm_precision() { return g_fast_gemm_precision; }

void gemm_xwt(Numerics num, const float* X, const float* W, const float* bias, float* Y, long N, long K, long O) {
  if (on_device()) {
#if defined(PARITY_HAVE_CUDA)
    if (num == Numerics::fast && K > 0) {
      devk::cublas().xwt(fast_gemm_precision(), devk::operand16(X, N * K, 0), devk::operand16(W, O * K, 1), bias, Y,
                         N, K, O);
      devk::cublas_sync();
      return;
    }
#endif
    if (num == Numerics::exact || K <= 0) {
      devk::xwt_exact_device(X, W, bias, Y, N, K, O);
      return;
    }
  }
  if (num == Numerics::exact || K <= 0) {  // an empty reduction is the same in both numerics
    exact_gemm({X, K, 1}, {W, K, 1}, bias, Y, N, O, K, O);
    return;
  }
  if (N <= 0 || O <= 0) return;
  // With a bias, Y starts as the broadcast bias and BLAS accumulates onto it (beta = 1): one pass over Y
  // instead of BLAS's zeroing plus a separate bias pass.
  if (bias)
    for (long n = 0; n < N; ++n) std::memcpy(Y + n * O, bias, sizeof(float) * O);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, O, K, 1.0f, X, K, W, K, bias ? 1.0f : 0.0f, Y, O);
}

void gemm_dyw(Numerics num, const float* dY, const float* W, float* dX, long N, long O, long K) {
  if (on_device()) {
#if defined(PARITY_HAVE_CUDA)
    if (num == Numerics::fast && O > 0) {
      devk::cublas().dyw(fast_gemm_precision(), devk::operand16(dY, N * O, 0), devk::operand16(W, O * K, 1), dX, N,
                         O, K);
      devk::cublas_sync();
      return;
    }
#endif
    if (num == Numerics::exact || O <= 0) {
      devk::exact_gemm_device(dY, O, 1, W, 1, K, nullptr, dX, K, N, K, O);
      return;
    }
  }
  if (num == Numerics::exact || O <= 0) {
    exact_gemm({dY, O, 1}, {W, 1, K}, nullptr, dX, N, K, O, K);
    return;
  }
  if (N <= 0 || K <= 0) return;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, K, O, 1.0f, dY, O, W, K, 0.0f, dX, K);
}

void gemm_dytx(Numerics num, const float* dY, const float* X, float* dW, long N, long O, long K) {
  if (on_device()) {
#if defined(PARITY_HAVE_CUDA)
    if (num == Numerics::fast && N > 0) {
      devk::cublas().dytx(fast_gemm_precision(), devk::operand16(dY, N * O, 0), devk::operand16(X, N * K, 1), dW,
                          N, O, K);
      devk::cublas_sync();
      return;
    }
#endif
    if (num == Numerics::exact || N <= 0) {
      devk::exact_gemm_device(dY, 1, O, X, 1, K, nullptr, dW, K, O, K, N);
      return;
    }
  }
  if (num == Numerics::exact || N <= 0) {
    exact_gemm({dY, 1, O}, {X, 1, K}, nullptr, dW, O, K, N, K);
    return;
  }
  if (O <= 0 || K <= 0) return;
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, O, K, N, 1.0f, dY, O, X, K, 0.0f, dW, K);
}

void gemm_strided(Numerics num, Operand A, Operand B, float* Y, long ldy, long M, long N, long R) {
  if (M <= 0 || N <= 0) return;
  if (on_device()) {  // both numerics: the exact kernel (same bits as the host's exact mode)
    devk::exact_gemm_device(A.p, A.si, A.sr, B.p, B.si, B.sr, nullptr, Y, ldy, M, N, R);
    return;
  }
  // BLAS needs each operand contiguous along one of its indices; anything else takes the exact kernel.
  const bool blas_ok = (A.sr == 1 || A.si == 1) && (B.sr == 1 || B.si == 1);
  if (num == Numerics::exact || R <= 0 || !blas_ok) {
    exact_gemm(A, B, nullptr, Y, M, N, R, ldy);
    return;
  }
  // Row-major Y = op(A) · op(B): A(m, r) is A.p[m·si + r·sr], so sr == 1 is a plain [M, R] matrix with
  // leading dimension si and si == 1 its transpose; B enters transposed (Y = A · Bᵀ).
  const bool a_rows = A.sr == 1 && !(A.si == 1 && M == 1);
  const bool b_rows = B.sr == 1 && !(B.si == 1 && N == 1);
  cblas_sgemm(CblasRowMajor, a_rows ? CblasNoTrans : CblasTrans, b_rows ? CblasTrans : CblasNoTrans, M, N, R, 1.0f,
              A.p, std::max<long>(1, a_rows ? A.si : A.sr), B.p, std::max<long>(1, b_rows ? B.si : B.sr), 0.0f, Y,
              ldy);
}

}  // namespace parity
