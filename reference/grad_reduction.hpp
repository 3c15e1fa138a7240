// The gradient of a step, from its micro-batches to the ranks that own it (docs/design.md, canonical order):
//   each micro-batch's backward writes a leaf of this rank's micro-batch tree (the rank's contiguous range
//   of micro-batches is a subtree of the canonical tree over micro-batch index); the data-parallel ranks'
//   subtrees are then combined with the ordered tree over DP rank: an all-reduce, overlapped with the last
//   backward pass in buckets of at most 16 MiB (no ZeRO), or a reduce-scatter onto the shard owners (ZeRO-1).
// A leaf is the local gradient [P] followed by the token embedding's part of dwte [E] (first stage only):
// the tied embedding's two parts are summed after the trees (reference/tied_embedding.hpp).
#pragma once
#include <memory>
#include <vector>

#include "kernels/comm/communicator.hpp"
#include "kernels/device.hpp"
#include "reference/grid.hpp"
#include "reference/ownership.hpp"
#include "reference/stage.hpp"

namespace parity {

class GradientReduction {
 public:
  GradientReduction(const LocalLayout& lay, ProcessGrid& g, Numerics num, bool zero, long m_local);

  void begin_step();
  // The next micro-batch's leaf [P + E] for Stage::backward, and the hook to pass along with it: for the
  // last micro-batch with an overlapped all-reduce it finishes each part of the tree as it becomes final
  // and starts that part's reduction; otherwise empty. Call leaf_done() after the backward.
  float* leaf() { return tree_.leaf(); }
  Stage::ReadyFn overlap_hook();
  void leaf_done();

  // Completes the data-parallel reduction: grads() then holds the step's gradient (valid on the owned
  // ranges) and embed_part() the token embedding's part of dwte, cut like wte's owned range.
  void finish();
  float* grads() { return grads_.data(); }
  const float* embed_part() const { return embed_.data(); }

 private:
  const LocalLayout& lay_;
  ProcessGrid& g_;
  Numerics num_;
  bool zero_, overlap_;
  long P_, E_;
  UVecTree tree_;
  uvector<float> reduced_, grads_, embed_;
  std::vector<std::unique_ptr<Communicator::Request>> buckets_;
  bool hooked_ = false;
};

}  // namespace parity
