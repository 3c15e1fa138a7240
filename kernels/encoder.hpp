// Token + position embedding.
//   out[N, C] = wte[tokens[n], :] + wpe[n % T, :]           N = b * T rows of one micro-batch
#pragma once
#include <cstdint>

namespace parity {

// vocab_lo/vocab_hi: the rows of wte this rank holds (vocab-parallel); rows outside contribute 0, so the
// caller all-reduces the partial embeddings (exact: each row is owned by exactly one rank).
// wpe may be null (then only the token part is written).
void encoder_forward(float* out, const int32_t* tokens, const float* wte, const float* wpe, long N, long T,
                     long C, long vocab_lo, long vocab_hi);

// dwte[v, :] += sum over rows n with tokens[n] == v of dout[n, :], in the canonical order over n
//   (rows are the reduced index; rows with other tokens are zero leaves of the tree, pruned exactly since
//   x + 0 = x). `+=` is a single add onto what the LM head already wrote: dwte = head + embedding.
// dwpe[t, :] = sum over sequences s of dout[s*T + t, :], canonical over s. Skipped if dwpe is null.
void encoder_backward(float* dwte, float* dwpe, const float* dout, const int32_t* tokens, long N, long T,
                      long C, long vocab_lo, long vocab_hi);

}  // namespace parity
