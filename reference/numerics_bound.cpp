#include "reference/numerics_bound.hpp"

#include <algorithm>
#include <cmath>

namespace parity {

FastModeBound fast_mode_bound(const ModelConfig& m, long b, Precision p) {
  constexpr double lambda = 6.0;
  const double u32 = unit_roundoff(Precision::fp32);
  const double rows = static_cast<double>(b * m.T);
  const double K = std::max({4.0 * m.C, rows, static_cast<double>(m.Vp())});
  FastModeBound r;
  r.rho = u32 * std::sqrt(K / 3.0);
  r.per_stage = r.rho + (p == Precision::fp32 ? 0.0 : std::sqrt(2.0 * unit_roundoff(p) * r.rho));
  const double d_forward = 10.0 * m.L + 3.0, d_backward = 8.0 * m.L + 3.0;
  r.grad_rel = lambda * std::sqrt(rows) * std::sqrt(d_forward + d_backward) * r.per_stage;
  r.loss_rel_step = lambda * std::sqrt(d_forward) * r.per_stage;
  return r;
}

}  // namespace parity
