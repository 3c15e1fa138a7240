// The training loop over a DP x TP x PP grid (one device is the 1 x 1 x 1 grid):
//   each DP rank runs its contiguous range of micro-batches through its pipeline stage (GPipe or 1F1B),
//   feeding each micro-batch's gradient into the pairwise tree over micro-batch index;
//   the DP ranks' subtrees are combined with the ordered tree over DP rank (all-reduce, or reduce-scatter
//   with ZeRO-1); the tied embedding's two parts are added (head + token embedding);
//   the global gradient norm (layout-independent), clipping, AdamW, and the optional checks and files.
#pragma once
#include <string>
#include <vector>

#include "reference/run_definition.hpp"  // run_id
#include "reference/train_config.hpp"

namespace parity {

struct StepRecord {
  long step;  // 1-based
  float loss, grad_norm, lr;
  double seconds, tokens_per_second;
  double comm_seconds, idle_seconds;  // collectives (TP, DP, PP sends); waiting for pipeline neighbours
  float loss_scale;                   // the scale this step's backward used (1 unless fp16)
  bool skipped;                       // fp16 overflow: no update
};

struct TrainResult {
  std::vector<StepRecord> steps;
  std::vector<double> stage_idle;                     // pipeline: idle share of each stage
  double idle_fraction = 0, theoretical_bubble = 0;  // mean over stages vs (p-1)/(m/dp+p-1)
};

// Runs the configured training on the ranks of MPI_COMM_WORLD (MPI must be initialised). Throws
// parity::Error on bad input or a non-finite loss; result and checkpoint files are committed atomically by
// world rank 0 and are complete or absent.
TrainResult train(const TrainConfig& c);

}  // namespace parity
