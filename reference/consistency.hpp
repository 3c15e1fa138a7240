// Gradient-consistency checks (--check-consistency N): replicas that must hold the same bits are compared by
// hash. Data-parallel replicas: every parameter and, without ZeRO, every Adam moment. Tensor-parallel ranks:
// the replicated tensors (layernorms, wpe, row-parallel biases). The first and last pipeline stages: the tied
// wte. Every rank: the global gradient norm. A disagreement throws parity::Error naming the step, the tensor
// and the ranks (world ranks); every rank sees the same gathered hashes, so all stop together.
#pragma once
#include "reference/grid.hpp"
#include "reference/ownership.hpp"
#include "reference/shard_layout.hpp"

namespace parity {

void check_consistency(long step, const LocalLayout& lay, const Ownership& own, ProcessGrid& g, const float* params,
                       const float* m, const float* v, float grad_norm);

}  // namespace parity
