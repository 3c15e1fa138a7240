// The training loop: micro-batches, the canonical micro-batch tree, gradient norm and clipping, AdamW,
// checkpoints, per-step results. One device for now (the whole model, all micro-batches).
#pragma once
#include <vector>

#include "reference/train_config.hpp"

namespace parity {

struct StepRecord {
  long step;  // 1-based
  float loss, grad_norm, lr;
  double seconds, tokens_per_second;
};

struct TrainResult {
  std::vector<StepRecord> steps;
};

// Runs the configured training; throws parity::Error on bad input or a non-finite loss (nothing is left
// half-written: results and checkpoints are committed atomically).
TrainResult train(const TrainConfig& c);

// The run's identifier inside result files, e.g. "dp1-tp1-pp1-fp32-exact".
std::string run_id(const TrainConfig& c);

}  // namespace parity
