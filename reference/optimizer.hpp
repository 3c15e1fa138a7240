// The distributed optimizer: this rank's fp32 master weights (its whole local buffer), the 16-bit compute
// copy the layers read, and the AdamW moments of the ranges it owns (reference/ownership.hpp): the whole
// local buffer without ZeRO, its shard of the data-parallel group with ZeRO-1, after whose update the
// shards are all-gathered. AdamW is elementwise, so any sharding updates every element to the same bits.
#pragma once
#include <cstdint>

#include "kernels/adamw.hpp"
#include "kernels/device.hpp"
#include "kernels/precision.hpp"
#include "reference/checkpoint.hpp"
#include "reference/grid.hpp"
#include "reference/ownership.hpp"

namespace parity {

class DistributedOptimizer {
 public:
  DistributedOptimizer(const LocalLayout& lay, ProcessGrid& g, bool zero, Precision prec, const AdamWConfig& adam);

  const Ownership& ownership() const { return own_; }
  float* params() { return params_.data(); }  // the master weights, whole local buffer
  const float* weights() const { return prec_ == Precision::fp32 ? params_.data() : compute_.data(); }
  const float* m() const { return m_.data(); }
  const float* v() const { return v_.data(); }

  void init(uint64_t seed);               // docs/design.md initialisation of this rank's slice
  void restore(const TrainState& st);     // this rank's part of a loaded checkpoint
  void gather(TrainState& st);            // collective: the full state on world rank 0
  // One AdamW update of the owned ranges with the step's gradient (valid on them), then the ZeRO-1
  // all-gather. `update` is the 1-based update count (bias correction).
  void step(const float* grads, float lr, float clip, long update);
  // The compute copy: the master weights rounded to the compute precision (nothing to do for fp32).
  void refresh_compute_copy();

 private:
  const LocalLayout& lay_;
  ProcessGrid& g_;
  Ownership own_;
  bool zero_;
  Precision prec_;
  AdamWConfig adam_;
  uvector<float> params_, compute_, m_, v_;
};

}  // namespace parity
