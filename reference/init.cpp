#include "reference/init.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "reference/rng.hpp"

namespace parity {

double init_normal(uint64_t seed, const std::string& name, uint64_t index) {
  const uint64_t key = splitmix64(seed ^ fnv1a64(name));
  const uint64_t a = splitmix64(key + 2 * index), b = splitmix64(key + 2 * index + 1);
  const double u1 = (static_cast<double>(a >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]
  const double u2 = static_cast<double>(b >> 11) * 0x1.0p-53;          // [0, 1)
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

void init_tensor_rows(const ParamLayout& layout, const TensorInfo& t, uint64_t seed, long row_lo, long row_hi,
                      float* out) {
  const ModelConfig& m = layout.model();
  const auto ends_with = [&](const char* s) {
    const std::string suf(s);
    return t.name.size() >= suf.size() && t.name.compare(t.name.size() - suf.size(), suf.size(), suf) == 0;
  };
  const bool is_ln_weight = ends_with("ln1.weight") || ends_with("ln2.weight") || t.name == "lnf.weight";
  const bool is_weight = t.decay;  // the 2-D weights
  double std = 0.02;
  if (ends_with("attn.proj.weight") || ends_with("mlp.proj.weight")) std = 0.02 / std::sqrt(2.0 * m.L);
  const long file_rows = layout.file_size(t) / t.cols;
  for (long r = row_lo; r < row_hi; ++r) {
    float* dst = out + (r - row_lo) * t.cols;
    const long fr = layout.file_row(t, r);
    for (long c = 0; c < t.cols; ++c) {
      if (r >= file_rows) dst[c] = 0.0f;  // wte padding
      else if (is_weight) dst[c] = static_cast<float>(std * init_normal(seed, t.name, fr * t.cols + c));
      else dst[c] = is_ln_weight ? 1.0f : 0.0f;
    }
  }
}

void init_params(const ParamLayout& layout, uint64_t seed, float* params) {
  for (const auto& t : layout.tensors()) init_tensor_rows(layout, t, seed, 0, t.rows, params + t.offset);
}

void init_local_params(const LocalLayout& lay, uint64_t seed, float* params) {
  for (const LocalTensor& t : lay.tensors()) {
    std::vector<float> rows(t.rows * t.global->cols);
    init_tensor_rows(lay.full(), *t.global, seed, t.row0, t.row0 + t.rows, rows.data());
    for (long r = 0; r < t.rows; ++r)
      std::copy(rows.begin() + r * t.global->cols + t.col0, rows.begin() + r * t.global->cols + t.col0 + t.cols,
                params + t.offset + r * t.cols);
  }
}

}  // namespace parity
