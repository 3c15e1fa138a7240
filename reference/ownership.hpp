// Who owns what, once the parameters are spread over a DP x TP x PP grid, and the operations that need it:
// gathering full (unsharded) tensors for checkpoints and gradient dumps, scattering them back on resume, and
// the layout-independent gradient norm.
//
// A local element is *owned* by exactly one rank of the world:
//   - tensor-parallel replicated tensors (layernorms, wpe, row-parallel biases): by TP rank 0;
//   - wte, held by the first and the last stage: by the first stage;
//   - among data-parallel replicas: by DP rank 0, or with ZeRO-1 by the rank whose shard holds it.
// The optimizer state (Adam moments) of a rank covers its `ranges` of the local flat buffer: all of it
// without ZeRO, its shard with ZeRO-1.
#pragma once
#include <vector>

#include "reference/grid.hpp"
#include "reference/shard_layout.hpp"

namespace parity {

struct Range {
  long lo, hi;
  long size() const { return hi - lo; }
};

struct Ownership {
  std::vector<Range> ranges;  // of the local flat buffer whose optimizer state lives on this rank
  bool dp_owner = true;       // owns its ranges among DP replicas (always true with ZeRO)
  long state_size() const;
};

// Without ZeRO: the whole local buffer, owned by DP rank 0. With ZeRO-1: this DP rank's shard, cut in two
// regions (wte, so that the first and last stages cut the tied embedding the same way, then the rest),
// each split into near-equal parts of whole 32-element units.
Ownership make_ownership(const LocalLayout& lay, const ProcessGrid& g, bool zero);

// The ZeRO-1 partition of [lo, hi) over p ranks in whole 32-element units: counts per rank.
std::vector<long> zero_counts(long n, int p);

// The two ZeRO-1 regions of a rank's local buffer — wte [0, W) (cut the same way on the first and last stages)
// and the rest [W, total) — each with its per-rank counts and where this rank's shard begins.
struct ZeroRegion {
  Range region;
  std::vector<long> counts;
  long shard_lo;
};
std::vector<ZeroRegion> zero_regions(const LocalLayout& lay, int dp, int dp_rank);

bool owns_tensor(const LocalTensor& t, const LocalLayout& lay);

// Calls f(tensor, lo, hi, state) for each piece [lo, hi) of the local buffer where one of own's ranges meets
// one local tensor, in range order then tensor order; `state` is where lo lies in the concatenated ranges
// (the optimizer state's index). The one iteration over owned ranges: AdamW, norms, gathers, scatters.
template <class F>
void for_each_owned_span(const LocalLayout& lay, const Ownership& own, const F& f) {
  long state = 0;
  for (const Range& r : own.ranges) {
    for (const LocalTensor& t : lay.tensors()) {
      const long lo = r.lo > t.offset ? r.lo : t.offset;
      const long hi = r.hi < t.offset + t.size ? r.hi : t.offset + t.size;
      if (lo < hi) f(t, lo, hi, state + (lo - r.lo));
    }
    state += r.size();
  }
}

// Full internal-layout vector (ParamLayout order, on world rank 0 only; other ranks get an empty vector)
// from the owned elements of each rank: `values` holds this rank's values for its ownership ranges
// (concatenated), or for the whole local buffer when whole_local is set.
std::vector<float> gather_full(const LocalLayout& lay, const Ownership& own, ProcessGrid& g, const float* values,
                               bool whole_local);

// This rank's values for its ownership ranges (concatenated), or the whole local buffer, from a full vector.
void scatter_local(const LocalLayout& lay, const Ownership& own, const std::vector<float>& full, float* values,
                   bool whole_local);

// sqrt of the canonical sum of squares of the full gradient (ParamLayout order), from each rank's local
// gradient `grads` (whole local buffer, valid at least on the owned ranges). The per-unit (32-element
// block) sums of squares are placed at their global positions of a zero vector and summed over the world
// (exact: one nonzero term per unit), then reduced with the pairwise tree: the same bits as one device.
float global_grad_norm(const LocalLayout& lay, const Ownership& own, ProcessGrid& g, const float* grads);

}  // namespace parity
