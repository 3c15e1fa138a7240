// The tokens of one step. Step s's global batch is sequences (s·m + mb)·b + r of the token source, for
// micro-batch mb < m and row r < b (docs/design.md, canonical order rule 1: the data order is part of the
// run's definition); a data-parallel rank reads its contiguous range of micro-batches.
#pragma once
#include <cstdint>

#include "kernels/device.hpp"
#include "reference/data.hpp"

namespace parity {

class Batch {
 public:
  // Micro-batches [first, first + count) of m per step, b sequences of T tokens each.
  Batch(long m, long first, long count, long b, long T);
  void load(const TokenSource& data, long step);  // step: 0-based
  const int32_t* inputs(long i) const { return &inputs_[i * b_ * T_]; }  // local micro-batch i [b, T]
  const int32_t* targets(long i) const { return &targets_[i * b_ * T_]; }
  const uvector<int32_t>& all_inputs() const { return inputs_; }
  const uvector<int32_t>& all_targets() const { return targets_; }

 private:
  long m_, first_, count_, b_, T_;
  uvector<int32_t> inputs_, targets_;  // unified memory: the device kernels read them too
};

}  // namespace parity
