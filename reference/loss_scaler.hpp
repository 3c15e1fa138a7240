// Dynamic loss scaling for fp16 (docs/numerics.md, "fp16 loss scaling"): the loss gradient is multiplied by
// the scale S before the backward pass and the gradients divided by it after the reductions. A step whose
// gradient holds an inf or NaN on any rank is skipped on every rank; `hysteresis` such steps back the scale
// off by `backoff`, and `interval` clean steps in a row grow it by `growth`. Reaching the minimum scale with
// an overflow is an error, not a silent loop. Scales are powers of two by default, so scaling is exact.
#pragma once
#include <string>

#include "reference/grid.hpp"
#include "reference/ownership.hpp"

namespace parity {

struct LossScaleConfig {
  double init = 65536.0, growth = 2.0, backoff = 0.5, min = 1.0;
  long interval = 1000, hysteresis = 2;
};

class LossScaler {
 public:
  LossScaler() = default;
  LossScaler(const LossScaleConfig& c, bool enabled);
  float scale() const { return static_cast<float>(scale_); }
  // Record the outcome of a step; returns true if the update must be skipped. Throws parity::Error when an
  // overflow happens at the minimum scale.
  bool update(bool overflow, long step);
  // The step's verdict on its gradient (valid on own's ranges, scaled by scale()): looks for an inf or NaN
  // on every rank, records the outcome (update) and returns true if the step is skipped on every rank;
  // otherwise divides the owned ranges by the scale (exact for powers of two) before the norm and update.
  bool unscale_or_skip(float* grads, const Ownership& own, ProcessGrid& g, long step);
  // State for checkpoints.
  double scale_value() const { return scale_; }
  long growth_tracker() const { return growth_tracker_; }
  long hysteresis_tracker() const { return hysteresis_tracker_; }
  void restore(double scale, long growth_tracker, long hysteresis_tracker);

 private:
  LossScaleConfig cfg_;
  bool enabled_ = false;
  double scale_ = 1.0;
  long growth_tracker_ = 0, hysteresis_tracker_ = 0;
};

}  // namespace parity
