// Tensor-by-tensor comparison of two HDF5 files (see compare.hpp and docs/reports.md).
//
// Rules per element (fp32):
// - `differing` counts elements whose 32 bits differ: -0 vs +0 and two NaNs with different payloads count.
// - ULP distance: the bits are mapped to a monotone integer line (non-negative floats keep their bit
//   pattern, negative ones become INT32_MIN - bits), so adjacent floats are 1 apart, -0 and +0 coincide
//   (0 ULP) and the smallest subnormals of either sign are 1 ULP from zero. Infinities sit one step past the
//   largest finite value.
// - Two NaNs (any payload) are 0 apart in value (abs, rel, ULP); a NaN against a number is an infinite
//   difference: abs = rel = +inf and ULP = INT64_MAX.
// - rel = |a - b| / max(|a|, |b|), computed in double; 0 when both are zero; +inf when one is infinite.
#include "harness/compare.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <set>

#include "kernels/error.hpp"
#include "reference/h5io.hpp"

namespace parity {
namespace {

int64_t ordered(float f) {
  int32_t i;
  std::memcpy(&i, &f, sizeof i);
  return i >= 0 ? static_cast<int64_t>(i) : static_cast<int64_t>(std::numeric_limits<int32_t>::min()) - i;
}

uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

// Compares element by element into `d` (name and shape_mismatch already set; sizes equal).
void compare_elements(TensorDiff& d, const float* a, const float* b, size_t n) {
  const double inf = std::numeric_limits<double>::infinity();
  d.elements = static_cast<long>(n);
  for (size_t i = 0; i < n; ++i) {
    if (bits_of(a[i]) == bits_of(b[i])) continue;
    ++d.differing;
    if (d.first_index < 0) d.first_index = static_cast<long>(i);
    const bool na = std::isnan(a[i]), nb = std::isnan(b[i]);
    double abs_diff = 0, rel = 0;
    int64_t ulp = 0;
    if (na && nb) {
      // Both "not a number": the bits differ, the values do not.
    } else if (na || nb) {
      abs_diff = rel = inf;
      ulp = std::numeric_limits<int64_t>::max();
    } else {
      const double x = a[i], y = b[i];
      abs_diff = std::fabs(x - y);
      const double scale = std::max(std::fabs(x), std::fabs(y));
      rel = scale == 0 ? 0 : std::isinf(scale) ? inf : abs_diff / scale;
      const int64_t oa = ordered(a[i]), ob = ordered(b[i]);
      ulp = oa > ob ? oa - ob : ob - oa;
    }
    d.max_abs = std::max(d.max_abs, abs_diff);
    d.max_rel = std::max(d.max_rel, rel);
    d.max_ulp = std::max(d.max_ulp, ulp);
  }
}

// Names in natural order: runs of digits compare as numbers, so blocks.2 comes before blocks.10.
struct NaturalLess {
  bool operator()(const std::string& a, const std::string& b) const {
    size_t i = 0, j = 0;
    while (i < a.size() && j < b.size()) {
      const bool da = std::isdigit(static_cast<unsigned char>(a[i])), db = std::isdigit(static_cast<unsigned char>(b[j]));
      if (da && db) {
        size_t ei = i, ej = j;
        while (ei < a.size() && std::isdigit(static_cast<unsigned char>(a[ei]))) ++ei;
        while (ej < b.size() && std::isdigit(static_cast<unsigned char>(b[ej]))) ++ej;
        // Compare without leading zeros: longer is larger, then digit by digit.
        size_t si = i, sj = j;
        while (si + 1 < ei && a[si] == '0') ++si;
        while (sj + 1 < ej && b[sj] == '0') ++sj;
        if (ei - si != ej - sj) return ei - si < ej - sj;
        const int c = a.compare(si, ei - si, b, sj, ej - sj);
        if (c != 0) return c < 0;
        if (ei - i != ej - j) return ei - i < ej - j;
        i = ei;
        j = ej;
        continue;
      }
      if (a[i] != b[j]) return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]);
      ++i;
      ++j;
    }
    return a.size() - i < b.size() - j;
  }
};
using Names = std::map<std::string, std::string, NaturalLess>;

// Every dataset at or under `root` (a group, or a single dataset): absolute path -> element type.
void collect(const H5Reader& r, const std::string& root, Names& out) {
  if (!r.is_group(root)) {
    out[root] = r.dtype(root);
    return;
  }
  for (const std::string& child : r.list(root)) collect(r, (root == "/" ? "" : root) + "/" + child, out);
}

std::string normalise(const std::string& group) {
  std::string g = (group.empty() || group[0] != '/') ? "/" + group : group;
  while (g.size() > 1 && g.back() == '/') g.pop_back();
  return g;
}

}  // namespace

bool FileDiff::bitwise() const {
  if (!only_in_a.empty() || !only_in_b.empty()) return false;
  return std::all_of(tensors.begin(), tensors.end(), [](const TensorDiff& t) { return t.bitwise(); });
}

const TensorDiff* FileDiff::first_difference() const {
  for (const TensorDiff& t : tensors)
    if (!t.bitwise()) return &t;
  return nullptr;
}

double FileDiff::max_abs() const {
  double m = 0;
  for (const TensorDiff& t : tensors) m = std::max(m, t.max_abs);
  return m;
}

double FileDiff::max_rel() const {
  double m = 0;
  for (const TensorDiff& t : tensors) m = std::max(m, t.max_rel);
  return m;
}

TensorDiff compare_arrays(const std::string& name, const std::vector<float>& a, const std::vector<float>& b) {
  TensorDiff d;
  d.name = name;
  if (a.size() != b.size()) {
    d.shape_mismatch = true;
    d.elements = static_cast<long>(a.size());
    return d;
  }
  compare_elements(d, a.data(), b.data(), a.size());
  return d;
}

FileDiff compare_files(const std::string& a, const std::string& b, const std::string& group) {
  const std::string g = normalise(group);
  H5Reader ra(a), rb(b);
  for (const H5Reader* r : {&ra, &rb}) {
    if (!r->has(g)) throw Error("group " + g + " not found in HDF5 file " + r->path());
  }
  Names ta, tb;
  collect(ra, g, ta);
  collect(rb, g, tb);

  // Names are visited in natural order (blocks.2 before blocks.10). A name that is float32 in one file and of another type
  // in the other counts as a shape mismatch; datasets that are float32 in neither are not compared.
  FileDiff out;
  std::set<std::string, NaturalLess> names;
  for (const auto& [name, type] : ta)
    if (type == "float32") names.insert(name);
  for (const auto& [name, type] : tb)
    if (type == "float32") names.insert(name);
  for (const std::string& name : names) {
    const auto ia = ta.find(name), ib = tb.find(name);
    if (ib == tb.end()) {
      out.only_in_a.push_back(name);
      continue;
    }
    if (ia == ta.end()) {
      out.only_in_b.push_back(name);
      continue;
    }
    TensorDiff d;
    d.name = name;
    if (ia->second != ib->second || ra.dims(name) != rb.dims(name)) {
      d.shape_mismatch = true;
      hsize_t n = 1;
      for (hsize_t e : ra.dims(name)) n *= e;
      d.elements = static_cast<long>(n);
    } else {
      const std::vector<float> va = ra.read_float(name), vb = rb.read_float(name);
      compare_elements(d, va.data(), vb.data(), va.size());
    }
    out.tensors.push_back(std::move(d));
  }
  return out;
}

}  // namespace parity
