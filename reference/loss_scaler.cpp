#include "reference/loss_scaler.hpp"

#include <algorithm>
#include <cstdio>

#include "kernels/device.hpp"
#include "kernels/error.hpp"

namespace parity {

LossScaler::LossScaler(const LossScaleConfig& c, bool enabled)
    : cfg_(c), enabled_(enabled), scale_(enabled ? c.init : 1.0), hysteresis_tracker_(c.hysteresis) {}

bool LossScaler::update(bool overflow, long step) {
  if (!overflow) {
    if (enabled_ && ++growth_tracker_ == cfg_.interval) {
      scale_ *= cfg_.growth;
      growth_tracker_ = 0;
      hysteresis_tracker_ = cfg_.hysteresis;
    }
    return false;
  }
  if (!enabled_)
    throw Error("gradient overflow (inf or NaN) at step " + std::to_string(step) +
                " without loss scaling; stopping");
  if (scale_ <= cfg_.min) {
    char s[64];
    std::snprintf(s, sizeof s, "%g", scale_);
    throw Error("gradient overflow at step " + std::to_string(step) + " with the loss scale at its minimum " + s +
                "; the run diverges (lower --lr, or use bf16)");
  }
  growth_tracker_ = 0;
  if (--hysteresis_tracker_ <= 0) {
    scale_ = std::max(scale_ * cfg_.backoff, cfg_.min);
    hysteresis_tracker_ = cfg_.hysteresis;
  }
  return true;
}

bool LossScaler::unscale_or_skip(float* grads, const Ownership& own, ProcessGrid& g, long step) {
  const float used = scale();
  bool overflow = false;
  for (const Range& r : own.ranges)
    if (!overflow) overflow = any_nonfinite(grads + r.lo, r.size());
  const bool skip = update(g.any(overflow), step);
  if (used != 1.0f && !skip)
    for (const Range& r : own.ranges) parity::scale(grads + r.lo, r.size(), 1.0f / used);
  return skip;
}

void LossScaler::restore(double scale, long growth_tracker, long hysteresis_tracker) {
  scale_ = scale;
  growth_tracker_ = growth_tracker;
  hysteresis_tracker_ = hysteresis_tracker;
}

}  // namespace parity
