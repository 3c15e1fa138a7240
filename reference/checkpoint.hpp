// Checkpoints and gradient dumps in HDF5 (docs/hdf5-schema.md, "Checkpoints", "Gradient dumps"): full,
// unsharded fp32 arrays in file layout under /params/<name>, /adam/m/<name>, /adam/v/<name>; step, seed,
// data position and the run's shape as attributes. Written atomically.
#pragma once
#include <string>
#include <vector>

#include "reference/params.hpp"
#include "reference/train_config.hpp"

namespace parity {

struct TrainState {
  std::vector<float> params, m, v;  // internal layout, flat
  long step = 0;                    // completed steps
  long updates = 0;                 // optimizer updates applied (< step when fp16 skipped overflowing steps)
  double loss_scale = 1.0;          // loss-scaler state (fp16)
  long scaler_growth = 0, scaler_hysteresis = 0;
};

// "{step}" in a checkpoint path is replaced by the step number (keeps every --save-every checkpoint).
std::string checkpoint_path(const std::string& pattern, long step);

void save_checkpoint(const std::string& path, const TrainConfig& c, const ParamLayout& layout, const TrainState& s);

// Loads into s, after checking that the file is a parity checkpoint of the same model and run shape;
// a mismatch or a damaged file is a parity::Error naming the file and the difference.
void load_checkpoint(const std::string& path, const TrainConfig& c, const ParamLayout& layout, TrainState& s);

// The gradient of step `step` (1-based) before clipping, in file layout, with that step's whole batch
// ([m*b, T] inputs and targets) and the loss, so another implementation can reproduce the step.
void write_grad_dump(const std::string& path, const TrainConfig& c, const ParamLayout& layout, const float* grads,
                     const std::vector<int32_t>& inputs, const std::vector<int32_t>& targets, float loss, long step);

}  // namespace parity
