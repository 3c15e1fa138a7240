// Parameter initialisation (docs/design.md, "Model semantics"): every element is a function of (seed,
// parameter name, file index), so any shard can initialise its own slice and all layouts start from the
// same bits.
//   weights ~ normal(0, 0.02), the residual projections (attn.proj, mlp.proj) ~ normal(0, 0.02/sqrt(2L));
//   biases 0; layernorm weight 1, bias 0; wte padding rows 0.
#pragma once
#include <cstdint>
#include <string>

#include "reference/params.hpp"
#include "reference/shard_layout.hpp"

namespace parity {

// A standard normal sample that depends only on (seed, name, index): counter-based, Box-Muller in double.
double init_normal(uint64_t seed, const std::string& name, uint64_t index);

// Initialises internal rows [row_lo, row_hi) of tensor t into out (row-major, t.cols per row).
void init_tensor_rows(const ParamLayout& layout, const TensorInfo& t, uint64_t seed, long row_lo, long row_hi,
                      float* out);

void init_params(const ParamLayout& layout, uint64_t seed, float* params);

// Initialises one rank's local buffer (its stage's tensors, each cut to its tensor-parallel shard): the
// same values as the corresponding elements of init_params.
void init_local_params(const LocalLayout& lay, uint64_t seed, float* params);

}  // namespace parity
