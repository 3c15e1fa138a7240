// The tied embedding's gradient: dwte = (LM head part) + (token embedding part), each already summed over
// every micro-batch and data-parallel rank (reference/grad_reduction.hpp). With one stage both parts are
// local; with pp > 1 the head part lives on the last stage and the embedding part on the first, which swap
// their owned ranges so that both hold the same sum, added in the same order (head + embedding).
#pragma once
#include "kernels/comm/communicator.hpp"
#include "kernels/device.hpp"
#include "reference/ownership.hpp"
#include "reference/shard_layout.hpp"

namespace parity {

class TiedEmbedding {
 public:
  TiedEmbedding(const LocalLayout& lay, const Ownership& own);
  // grads: the local gradient (its wte part is the head part on the last stage); embed: the embedding part,
  // indexed like wte (first stage). Afterwards grads' owned range of wte holds dwte on both stages.
  void sum(float* grads, const float* embed, Communicator& pipe);

 private:
  const StageSpec& spec_;
  Range mine_{0, 0};  // this rank's owned range of wte [0, W) in the local buffer
  uvector<float> exchange_;
};

}  // namespace parity
