#include "reference/grad_reduction.hpp"

#include <algorithm>

namespace parity {

namespace {
constexpr long kBucket = 4L << 20;  // floats per gradient bucket: 16 MiB
}

GradientReduction::GradientReduction(const LocalLayout& lay, ProcessGrid& g, Numerics num, bool zero, long m_local)
    : lay_(lay),
      g_(g),
      num_(num),
      zero_(zero),
      overlap_(!zero && g.dp > 1),
      P_(lay.total()),
      E_(lay.spec().first() ? lay.vocab_rows * lay.full().model().C : 0),
      tree_(m_local, P_ + E_),
      reduced_(overlap_ ? P_ + E_ : 0),
      grads_(P_),
      embed_(E_) {}

void GradientReduction::begin_step() {
  tree_.reset();
  buckets_.clear();
  hooked_ = false;
}

Stage::ReadyFn GradientReduction::overlap_hook() {
  if (!overlap_ || !tree_.at_last_leaf()) return {};
  hooked_ = true;
  const float* leaf = tree_.leaf();
  return [this, leaf](const float* first, long n) {
    const long lo = first - leaf;
    tree_.finish_range(lo, lo + n, reduced_.data());
    for (long b = lo; b < lo + n; b += kBucket)
      buckets_.push_back(g_.dp_group().iallreduce_sum(reduced_.data() + b, std::min(kBucket, lo + n - b), num_));
    for (auto& r : buckets_) r->test();  // progress the earlier buckets
  };
}

void GradientReduction::leaf_done() {
  if (!hooked_) tree_.push();  // the hook has finished the last leaf's tree itself
}

void GradientReduction::finish() {
  if (!zero_) {
    for (auto& r : buckets_) r->wait();  // started during the last backward pass
    const float* local = overlap_ ? reduced_.data() : tree_.result();
    copy(grads_.data(), local, P_);
    copy(embed_.data(), local + P_, E_);
    return;
  }
  // ZeRO-1: reduce-scatter each region (wte, the rest) onto the shard owners, in whole 32-element units.
  const float* local = tree_.result();
  for (const ZeroRegion& z : zero_regions(lay_, g_.dp, g_.dp_rank)) {
    if (z.region.size() > 0)
      g_.dp_group().reduce_scatter_sum(local + z.region.lo, grads_.data() + z.shard_lo, z.counts, num_);
    if (z.region.lo == 0 && E_ > 0)  // the token embedding's part of wte, cut like wte
      g_.dp_group().reduce_scatter_sum(local + P_, embed_.data() + z.shard_lo, z.counts, num_);
  }
}

}  // namespace parity
