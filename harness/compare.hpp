// Tensor-by-tensor comparison of two HDF5 files (checkpoints, gradient dumps, per-step results): the engine
// of `parity compare` and of the sweep's verdicts.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace parity {

struct TensorDiff {
  std::string name;            // dataset path, e.g. "/params/wte"
  long elements = 0;
  long differing = 0;          // elements whose bits differ
  double max_abs = 0;          // largest |a - b|
  double max_rel = 0;          // largest |a - b| / max(|a|, |b|) over elements where a or b != 0
  int64_t max_ulp = 0;         // largest distance in units in the last place (fp32 ordering)
  long first_index = -1;       // first differing element (flat index), -1 if bit-identical
  bool shape_mismatch = false;
  bool bitwise() const { return differing == 0 && !shape_mismatch; }
};

struct FileDiff {
  std::vector<TensorDiff> tensors;     // every float dataset present in both, sorted by name (natural order)
  std::vector<std::string> only_in_a, only_in_b;
  bool bitwise() const;                // all tensors bit-identical and the same set of tensors
  const TensorDiff* first_difference() const;  // first differing tensor in sorted order, or null
  double max_abs() const;
  double max_rel() const;
};

// Compares the float32 datasets under `group` (e.g. "/" or "/params") of two files. Throws parity::Error
// if a file cannot be read.
FileDiff compare_files(const std::string& a, const std::string& b, const std::string& group = "/");

// Two float arrays, same rules as above (used for per-step loss arrays).
TensorDiff compare_arrays(const std::string& name, const std::vector<float>& a, const std::vector<float>& b);

}  // namespace parity
