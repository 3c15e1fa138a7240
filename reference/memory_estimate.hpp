// A lower bound on the host memory one rank of a run needs, to refuse before allocating anything a run that
// cannot fit (instead of std::bad_alloc mid-way, or the kernel's OOM killer taking the machine down).
//
// The bound counts only what certainly lives at once on a rank, in fp32 (4 bytes), P_r = P / (tp·pp) the
// rank's share of the P parameters (P = V·C + T·C + L·(12C² + 13C) + 2C):
//   parameter state: P_r × (weights + gradients) + P_r × (m + v) / (dp with ZeRO-1, else 1)
//   activations of one micro-batch in flight: b · (L/pp) · (15·T·C/tp + (H/tp)·T²)   (the saved inputs of
//   the layer norms, qkv, attention output, MLP and GELU, and the attention probabilities)
//   plus the logits of the last stage, b · T · V / tp.
// Everything else (compute copies, scratch, more micro-batches in flight, the communicator's buffers) only
// adds to it, so a run refused by this bound could not have run.
#pragma once
#include "reference/train_config.hpp"

namespace parity {

struct MemoryBound {
  double state_bytes = 0, activation_bytes = 0;
  double total() const { return state_bytes + activation_bytes; }
};

MemoryBound memory_lower_bound(const TrainConfig& c);

// Bytes of physical memory of this machine (0 when unknown).
double physical_memory_bytes();

// Throws parity::Error with the figures when the lower bound of one rank exceeds `available` bytes (the
// machine's physical memory when 0). Host target only: a device run's tensors live in the GPU's memory.
void check_memory(const TrainConfig& c, double available = 0);

}  // namespace parity
