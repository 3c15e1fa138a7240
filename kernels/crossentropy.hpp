// Softmax + cross-entropy over the (padded) vocabulary, fused, vocab-parallel ready.
//
//   logits [N, Vl]  this rank's columns [v_lo, v_lo + Vl) of the padded vocabulary Vp
//   targets [N]     global token ids < V; columns >= V are padding and masked out of the softmax
//   losses [N]      -log p(target), fp32
// Forward turns logits into probabilities in place; backward turns them into dlogits in place.
// With tensor parallelism the row maxima are combined with max (exact in any order) and the partial
// denominators (each a subtree of the canonical sum over Vp) with the ordered tree over ranks; the
// target logit is owned by one rank and summed with zeros (exact). A VocabReduce provides those two
// collectives; the default does nothing (one rank holds the whole vocabulary).
#pragma once
#include <cstdint>
#include <functional>

namespace parity {

struct VocabReduce {
  std::function<void(float*, long)> max;       // elementwise max over the TP group, in place
  std::function<void(float*, long)> tree_sum;  // canonical ordered-tree sum over the TP group, in place
};

void crossentropy_forward(float* losses, float* logits, const int32_t* targets, long N, long Vl, long v_lo,
                          long V, const VocabReduce* reduce = nullptr);

// dlogits = (probs - onehot(target)) * dloss, where dloss is the 1/tokens scaling (applied here, once).
void crossentropy_backward(float* probs, const int32_t* targets, long N, long Vl, long v_lo, long V,
                           float dloss);

}  // namespace parity
