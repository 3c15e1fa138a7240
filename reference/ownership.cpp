#include "reference/ownership.hpp"

#include <mpi.h>

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
// Calls f(local_index, global_index, value_index) for every owned element of this rank.
template <class F>
void for_owned(const LocalLayout& lay, const Ownership& own, bool whole_local, const F& f) {
  if (!own.dp_owner) return;
  long vi = 0;
  for (const Range& r : own.ranges) {
    for (const LocalTensor& t : lay.tensors()) {
      const long lo = std::max(r.lo, t.offset), hi = std::min(r.hi, t.offset + t.size);
      if (lo < hi && owns_tensor(t, lay))
        for (long i = lo; i < hi; ++i)
          f(i, t.global_index((i - t.offset) / t.cols, (i - t.offset) % t.cols), whole_local ? i : vi + (i - r.lo));
    }
    vi += r.size();
  }
}

void reduce_to_root(std::vector<float>& full, ProcessGrid& g) {
  if (g.world_size == 1) return;
  constexpr long kPiece = 1 << 22;  // 16 MiB: stays clear of glibc's mmap threshold churn
  std::vector<float> out(g.world_rank == 0 ? kPiece : 0);
  for (long lo = 0; lo < static_cast<long>(full.size()); lo += kPiece) {
    const int n = static_cast<int>(std::min<long>(kPiece, full.size() - lo));
    MPI_Reduce(full.data() + lo, g.world_rank == 0 ? out.data() : nullptr, n, MPI_FLOAT, MPI_SUM, 0, MPI_COMM_WORLD);
    if (g.world_rank == 0) std::copy(out.begin(), out.begin() + n, full.begin() + lo);
  }
}
}  // namespace

std::vector<float> gather_full(const LocalLayout& lay, const Ownership& own, ProcessGrid& g, const float* values,
                               bool whole_local) {
  // Every full element is written by exactly one rank, so the sum over ranks is exact.
  std::vector<float> full(lay.full().total(), 0.0f);
  for_owned(lay, own, whole_local, [&](long, long gi, long vi) { full[gi] = values[vi]; });
  reduce_to_root(full, g);
  if (g.world_rank != 0) full.clear();
  return full;
}

void scatter_local(const LocalLayout& lay, const Ownership& own, const std::vector<float>& full, float* values,
                   bool whole_local) {
  long vi = 0;
  for (const Range& r : own.ranges) {
    for (const LocalTensor& t : lay.tensors()) {
      const long lo = std::max(r.lo, t.offset), hi = std::min(r.hi, t.offset + t.size);
      for (long i = lo; i < hi; ++i)
        values[whole_local ? i : vi + (i - r.lo)] = full[t.global_index((i - t.offset) / t.cols, (i - t.offset) % t.cols)];
    }
    vi += r.size();
  }
}

float global_grad_norm(const LocalLayout& lay, const Ownership& own, ProcessGrid& g, const float* grads) {
  std::vector<float> units(lay.full().total() / kBlock, 0.0f);
  if (own.dp_owner) {
    for (const Range& r : own.ranges)
      for (const LocalTensor& t : lay.tensors()) {
        const long lo = std::max(r.lo, t.offset), hi = std::min(r.hi, t.offset + t.size);
        if (lo >= hi || !owns_tensor(t, lay)) continue;
        // Units are 32-element blocks, contiguous here and in the full tensor (shard widths are whole blocks).
        if (on_device()) {  // the block dots on the device, the scatter to global units here
          static uvector<float> dots;
          const long nu = (hi - lo + kBlock - 1) / kBlock;
          dots.resize(nu);
          block_dots(grads + lo, hi - lo, dots.data());
          for (long u = 0; u < nu; ++u) {
            const long i = lo + u * kBlock;
            units[t.global_index((i - t.offset) / t.cols, (i - t.offset) % t.cols) / kBlock] = dots[u];
          }
          continue;
        }
        for (long i = lo; i < hi; i += kBlock) {
          const long gi = t.global_index((i - t.offset) / t.cols, (i - t.offset) % t.cols);
          units[gi / kBlock] = block_dot(grads + i, grads + i, std::min<long>(kBlock, hi - i));
        }
      }
  }
  if (g.world_size > 1) {
    constexpr long kPiece = 1 << 22;
    for (long lo = 0; lo < static_cast<long>(units.size()); lo += kPiece)
      MPI_Allreduce(MPI_IN_PLACE, units.data() + lo, static_cast<int>(std::min<long>(kPiece, units.size() - lo)),
                    MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
  }
  return std::sqrt(tree_reduce(units.data(), static_cast<long>(units.size())));
}

}  // namespace parity
