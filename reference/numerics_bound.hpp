// The bound on how far fast numerics may stray from exact numerics (docs/numerics.md derives it).
//
// Fast mode changes only the order of fp32 accumulations (BLAS GEMMs, the MPI library's reductions). With
// u = 2^-24, the difference of two summation orders of a length-K reduction has a relative (norm-wise)
// standard deviation of about rho = u * sqrt(K / 3) (rounding errors as independent, uniform on [-u/2, u/2]
// ulp-scaled terms); we take the longest reduction of the model, K = max(4C, b*T, Vp). In 16-bit runs each
// storage rounding can turn that difference into a whole 16-bit ulp with probability rho / (2 u_p), an rms
// relative error of sqrt(2 u_p rho) per stage. Through D rounding stages of unit gain (D_f = 10 L + 3 in the
// forward pass, D_b = 8 L + 3 in the backward pass) independent errors add in quadrature: sqrt(D). A weight
// gradient is a sum over the b*T rows of a micro-batch; allowing for full cancellation (the sum as small as
// one term) multiplies its relative error by kappa = sqrt(b*T). Bounds are lambda = 6 standard deviations.
#pragma once
#include <string>

#include "kernels/precision.hpp"
#include "reference/model_config.hpp"

namespace parity {

struct FastModeBound {
  double rho;            // fp32 reordering, relative, one standard deviation
  double per_stage;      // rho (+ the 16-bit flip term)
  double grad_rel;       // per-tensor ||g_fast - g_exact|| / ||g_exact|| at the same parameters
  double loss_rel_step;  // |loss_fast - loss_exact| / loss per step of training (first-order, adds per step)
};

FastModeBound fast_mode_bound(const ModelConfig& m, long micro_batch_size, Precision p);

}  // namespace parity
