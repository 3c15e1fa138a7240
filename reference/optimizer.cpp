#include "reference/optimizer.hpp"

#include <algorithm>
#include <vector>

#include "reference/init.hpp"

namespace parity {

DistributedOptimizer::DistributedOptimizer(const LocalLayout& lay, ProcessGrid& g, bool zero, Precision prec,
                                           const AdamWConfig& adam)
    : lay_(lay),
      g_(g),
      own_(make_ownership(lay, g, zero)),
      zero_(zero),
      prec_(prec),
      adam_(adam),
      params_(lay.total()),
      compute_(prec == Precision::fp32 ? 0 : lay.total()),
      m_(own_.state_size(), 0.0f),
      v_(own_.state_size(), 0.0f) {}

void DistributedOptimizer::init(uint64_t seed) { init_local_params(lay_, seed, params_.data()); }

void DistributedOptimizer::restore(const TrainState& st) {
  const Ownership whole{{Range{0, lay_.total()}}, true};
  scatter_local(lay_, whole, st.params, params_.data(), true);
  scatter_local(lay_, own_, st.m, m_.data(), false);
  scatter_local(lay_, own_, st.v, v_.data(), false);
}

void DistributedOptimizer::gather(TrainState& st) {
  st.params = gather_full(lay_, own_, g_, params_.data(), true);
  st.m = gather_full(lay_, own_, g_, m_.data(), false);
  st.v = gather_full(lay_, own_, g_, v_.data(), false);
}

void DistributedOptimizer::step(const float* grads, float lr, float clip, long update) {
  for_each_owned_span(lay_, own_, [&](const LocalTensor& t, long lo, long hi, long state) {
    adamw_update(params_.data() + lo, m_.data() + state, v_.data() + state, grads + lo, hi - lo, lr,
                 t.global->decay ? adam_.weight_decay : 0.0f, clip, update, adam_);
  });
  if (!zero_ || g_.dp == 1) return;
  for (const ZeroRegion& z : zero_regions(lay_, g_.dp, g_.dp_rank))
    if (z.region.size() > 0) g_.dp_group().all_gather(params_.data() + z.shard_lo, params_.data() + z.region.lo, z.counts);
}

void DistributedOptimizer::refresh_compute_copy() {
  if (prec_ == Precision::fp32) return;
  copy(compute_.data(), params_.data(), lay_.total());
  round_to(prec_, compute_.data(), lay_.total());
}

}  // namespace parity
