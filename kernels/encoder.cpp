#include "kernels/encoder.hpp"

#include <algorithm>
#include <vector>

#include "kernels/canonical.hpp"
#include "kernels/device.hpp"
#include "kernels/parallel.hpp"

namespace parity {

// Device forms (kernels/device.hpp). Like every buffer a device form takes, the token ids are unified memory
// (Stage's come from the trainer's uvectors); the backward's grouping by token reads them on the host.
namespace devk {

void encoder_forward(float* out, const int32_t* tokens, const float* wte, const float* wpe, long N, long T,
                     long C, long vocab_lo, long vocab_hi) {
  device_for("encoder_forward", N * C, KOKKOS_LAMBDA(long i) {
    const long n = i / C, c = i % C;
    const long v = tokens[n];
    const bool mine = v >= vocab_lo && v < vocab_hi;
    const float t = mine ? wte[(v - vocab_lo) * C + c] : 0.0f;
    out[i] = wpe ? t + wpe[(n % T) * C + c] : t;
  });
}

// dwte: one thread per (present token, channel). It walks the row blocks in order, sums the token's rows
// inside each block sequentially from +0 and pushes every block's sum into the canonical tree, an exact
// zero for a block without the token. The host's token_tree prunes those empty subtrees instead: the same
// bits, since a block sum that starts from +0 is never -0, so adding +0 to a partial sum leaves it as it is.
void encoder_backward(float* dwte, float* dwpe, const float* dout, const int32_t* tokens, long N, long T,
                      long C, long vocab_lo, long vocab_hi) {
  const long nv = vocab_hi - vocab_lo;
  // Counting sort on the host: the rows of each token in increasing order.
  std::vector<long> start(nv + 1, 0);
  for (long n = 0; n < N; ++n)
    if (tokens[n] >= vocab_lo && tokens[n] < vocab_hi) ++start[tokens[n] - vocab_lo + 1];
  for (long v = 0; v < nv; ++v) start[v + 1] += start[v];
  static uvector<long> rows_buf, start_buf, present_buf;
  rows_buf.resize(start[nv]);
  {
    std::vector<long> fill(start.begin(), start.end() - 1);
    for (long n = 0; n < N; ++n)
      if (tokens[n] >= vocab_lo && tokens[n] < vocab_hi) rows_buf[fill[tokens[n] - vocab_lo]++] = n;
  }
  start_buf.clear();
  present_buf.clear();
  for (long v = 0; v < nv; ++v)
    if (start[v + 1] > start[v]) {
      present_buf.push_back(v);
      start_buf.push_back(start[v]);  // start_buf[i], start_buf[i + 1]: present token i's rows
    }
  start_buf.push_back(start[nv]);
  const long np = static_cast<long>(present_buf.size());
  const long nb = (N + dev::kBlk - 1) / dev::kBlk;
  const long* rows = rows_buf.data();
  const long* st = start_buf.data();
  const long* present = present_buf.data();
  device_for("encoder_backward_wte", np * C, KOKKOS_LAMBDA(long i) {
    const long p = i / C, c = i % C;
    long k = st[p];
    const long end = st[p + 1];
    dev::TreeStack tree(nb);
    for (long b = 0; b < nb; ++b) {
      const long hi = (b + 1) * dev::kBlk;
      float s = 0.0f;
      for (; k < end && rows[k] < hi; ++k) s = s + dout[rows[k] * C + c];
      tree.push(s);
    }
    float* w = dwte + present[p] * C + c;
    *w = *w + tree.result();
  });
  if (dwpe) {
    const long S = N / T;
    device_for("encoder_backward_wpe", T * C, KOKKOS_LAMBDA(long i) {
      dwpe[i] = dev::canonical_sum(dout + i, S, T * C);  // i = t*C + c
    });
  }
}

}  // namespace devk

void encoder_forward(float* out, const int32_t* tokens, const float* wte, const float* wpe, long N, long T,
                     long C, long vocab_lo, long vocab_hi) {
  if (on_device()) {
    devk::encoder_forward(out, tokens, wte, wpe, N, T, C, vocab_lo, vocab_hi);
    return;
  }
  parallel_units("encoder_forward", N, [=](long n) {
    const long v = tokens[n];
    float* o = out + n * C;
    const bool mine = v >= vocab_lo && v < vocab_hi;
    const float* e = wte + (v - vocab_lo) * C;
    const float* p = wpe ? wpe + (n % T) * C : nullptr;
    for (long c = 0; c < C; ++c) {
      const float tok = mine ? e[c] : 0.0f;
      o[c] = p ? tok + p[c] : tok;
    }
  });
}

namespace {
// Canonical tree over the row blocks [blo, blo+nbl) restricted to the given sorted rows; empty subtrees
// are exact zeros and are skipped. Writes C floats to out; scratch holds one C-vector per tree level.
void token_tree(const long* rows, long nrows, long blo, long nbl, const float* dout, long C, float* out,
                float* scratch) {
  if (nbl == 1) {
    for (long c = 0; c < C; ++c) out[c] = 0.0f;
    for (long i = 0; i < nrows; ++i) {
      const float* d = dout + rows[i] * C;
      for (long c = 0; c < C; ++c) out[c] = out[c] + d[c];
    }
    return;
  }
  const long left = (nbl + 1) / 2;
  const long split_row = (blo + left) * kBlock;
  const long nleft = std::lower_bound(rows, rows + nrows, split_row) - rows;
  if (nleft == nrows) return token_tree(rows, nrows, blo, left, dout, C, out, scratch);
  if (nleft == 0) return token_tree(rows, nrows, blo + left, nbl - left, dout, C, out, scratch);
  token_tree(rows, nleft, blo, left, dout, C, out, scratch + C);
  token_tree(rows + nleft, nrows - nleft, blo + left, nbl - left, dout, C, scratch, scratch + C);
  for (long c = 0; c < C; ++c) out[c] = out[c] + scratch[c];
}
}  // namespace

void encoder_backward(float* dwte, float* dwpe, const float* dout, const int32_t* tokens, long N, long T,
                      long C, long vocab_lo, long vocab_hi) {
  if (on_device()) {
    devk::encoder_backward(dwte, dwpe, dout, tokens, N, T, C, vocab_lo, vocab_hi);
    return;
  }
  // Group the rows by token (counting sort keeps rows in increasing order inside a token).
  const long nv = vocab_hi - vocab_lo;
  std::vector<long> start(nv + 1, 0), rows;
  for (long n = 0; n < N; ++n)
    if (tokens[n] >= vocab_lo && tokens[n] < vocab_hi) ++start[tokens[n] - vocab_lo + 1];
  for (long v = 0; v < nv; ++v) start[v + 1] += start[v];
  rows.resize(start[nv]);
  {
    std::vector<long> fill(start.begin(), start.end() - 1);
    for (long n = 0; n < N; ++n)
      if (tokens[n] >= vocab_lo && tokens[n] < vocab_hi) rows[fill[tokens[n] - vocab_lo]++] = n;
  }
  std::vector<long> present;
  for (long v = 0; v < nv; ++v)
    if (start[v + 1] > start[v]) present.push_back(v);
  const long nb = num_blocks(N);
  long depth = 2;
  for (long n = nb; n > 1; n = (n + 1) / 2) ++depth;
  const long* rows_p = rows.data();
  const long* start_p = start.data();
  const long* present_p = present.data();
  parallel_units("encoder_backward_wte", static_cast<long>(present.size()), [=](long i) {
    const long v = present_p[i];
    std::vector<float> buf((depth + 1) * C);
    token_tree(rows_p + start_p[v], start_p[v + 1] - start_p[v], 0, nb, dout, C, buf.data(), buf.data() + C);
    float* w = dwte + v * C;
    for (long c = 0; c < C; ++c) w[c] = w[c] + buf[c];
  });
  if (dwpe) {
    const long S = N / T;
    parallel_units("encoder_backward_wpe", T, [=](long t) {
      // Sum over sequences s of dout[s*T + t, :] is a column sum over rows with stride T*C.
      column_sums(dout + t * C, S, C, T * C, dwpe + t * C);
    });
  }
}

}  // namespace parity
