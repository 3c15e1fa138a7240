#include "reference/ownership.hpp"

#include <algorithm>
#include <cmath>

#include "kernels/canonical.hpp"
#include "kernels/comm/communicator.hpp"
#include "kernels/device.hpp"

namespace parity {

long Ownership::state_size() const {
  long n = 0;
  for (const Range& r : ranges) n += r.size();
  return n;
}

std::vector<long> zero_counts(long n, int p) {
  std::vector<long> c = chunk_counts(n / kBlock, p);
  for (long& x : c) x *= kBlock;
  c.back() += n % kBlock;  // cannot happen for our tensors (all multiples of 32); kept for safety
  return c;
}

std::vector<ZeroRegion> zero_regions(const LocalLayout& lay, int dp, int dp_rank) {
  // wte is the first local tensor wherever it is held.
  const long split = lay.wte >= 0 ? lay.vocab_rows * lay.full().model().C : 0;
  std::vector<ZeroRegion> out;
  for (const Range region : {Range{0, split}, Range{split, lay.total()}}) {
    ZeroRegion z{region, zero_counts(region.size(), dp), region.lo};
    for (int r = 0; r < dp_rank; ++r) z.shard_lo += z.counts[r];
    out.push_back(std::move(z));
  }
  return out;
}

Ownership make_ownership(const LocalLayout& lay, const ProcessGrid& g, bool zero) {
  Ownership o;
  const long total = lay.total();
  if (!zero || g.dp == 1) {
    o.ranges.push_back({0, total});
    o.dp_owner = g.dp_rank == 0;
    return o;
  }
  for (const ZeroRegion& z : zero_regions(lay, g.dp, g.dp_rank))
    if (z.counts[g.dp_rank] > 0) o.ranges.push_back({z.shard_lo, z.shard_lo + z.counts[g.dp_rank]});
  o.dp_owner = true;
  return o;
}

bool owns_tensor(const LocalTensor& t, const LocalLayout& lay) {
  const StageSpec& s = lay.spec();
  if (t.split == Split::none && s.tp_rank != 0) return false;
  if (t.global->name == "wte" && !s.first()) return false;
  return true;
}

namespace {
// Calls f(global_index, value_index) for every element this rank owns (the one copy written to a gathered
// full vector): its ranges' pieces of the tensors it owns, if it owns its ranges among DP replicas.
template <class F>
void for_owned(const LocalLayout& lay, const Ownership& own, bool whole_local, const F& f) {
  if (!own.dp_owner) return;
  for_each_owned_span(lay, own, [&](const LocalTensor& t, long lo, long hi, long state) {
    if (!owns_tensor(t, lay)) return;
    for (long i = lo; i < hi; ++i)
      f(t.global_index((i - t.offset) / t.cols, (i - t.offset) % t.cols), whole_local ? i : state + (i - lo));
  });
}
}  // namespace

std::vector<float> gather_full(const LocalLayout& lay, const Ownership& own, ProcessGrid& g, const float* values,
                               bool whole_local) {
  // Every full element is written by exactly one rank, so the sum over ranks is exact.
  std::vector<float> full(lay.full().total(), 0.0f);
  for_owned(lay, own, whole_local, [&](long gi, long vi) { full[gi] = values[vi]; });
  g.sum_disjoint_to_root(full.data(), static_cast<long>(full.size()));
  if (g.world_rank != 0) full.clear();
  return full;
}

void scatter_local(const LocalLayout& lay, const Ownership& own, const std::vector<float>& full, float* values,
                   bool whole_local) {
  for_each_owned_span(lay, own, [&](const LocalTensor& t, long lo, long hi, long state) {
    for (long i = lo; i < hi; ++i)
      values[whole_local ? i : state + (i - lo)] = full[t.global_index((i - t.offset) / t.cols, (i - t.offset) % t.cols)];
  });
}

namespace {
// The sums of squares of the 32-element units of t's piece [lo, hi) of the local gradient, placed at their
// global unit index. Units are contiguous here and in the full tensor (shard widths are whole blocks).
void block_norms(const LocalTensor& t, long lo, long hi, const float* grads, float* units) {
  if (on_device()) {  // the block dots on the device, the scatter to global units here
    static uvector<float> dots;
    const long nu = (hi - lo + kBlock - 1) / kBlock;
    dots.resize(nu);
    block_dots(grads + lo, hi - lo, dots.data());
    for (long u = 0; u < nu; ++u) {
      const long i = lo + u * kBlock;
      units[t.global_index((i - t.offset) / t.cols, (i - t.offset) % t.cols) / kBlock] = dots[u];
    }
    return;
  }
  for (long i = lo; i < hi; i += kBlock) {
    const long gi = t.global_index((i - t.offset) / t.cols, (i - t.offset) % t.cols);
    units[gi / kBlock] = block_dot(grads + i, grads + i, std::min<long>(kBlock, hi - i));
  }
}
}  // namespace

float global_grad_norm(const LocalLayout& lay, const Ownership& own, ProcessGrid& g, const float* grads) {
  std::vector<float> units(lay.full().total() / kBlock, 0.0f);
  if (own.dp_owner)
    for_each_owned_span(lay, own, [&](const LocalTensor& t, long lo, long hi, long) {
      if (owns_tensor(t, lay)) block_norms(t, lo, hi, grads, units.data());
    });
  g.sum_disjoint(units.data(), static_cast<long>(units.size()));  // one nonzero term per unit
  return std::sqrt(tree_reduce(units.data(), static_cast<long>(units.size())));
}

}  // namespace parity
