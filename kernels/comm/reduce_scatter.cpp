// Reduce-scatter (sum) with per-rank counts: exact = all-to-all of the plan's chunks + ordered local tree
// (also the first half of the exact all-reduce); fast = MPI_Reduce_scatter, entered in step
// (enter_in_step; MPI_Ireduce_scatter, which could simply be timed, is up to 2x slower).
#include <algorithm>

#include "kernels/comm/detail.hpp"

namespace parity::comm_detail {

void MpiCommunicator::exact_reduce_scatter(const ExchangePlan& plan, const float* in, float* out) {
  if (long(scratch_.size()) < plan.scratch_size()) scratch_.resize(plan.scratch_size());
  float* scratch = scratch_.data();
  exchange_v(one_call(plan.extent()), in, plan.scounts.data(), plan.sdispls.data(), scratch, plan.rcounts.data(),
             plan.rdispls.data());
  plan.leaves(in, scratch, leaves_);
  tree_sum_leaves(leaves_.data(), plan.p, plan.mine, out, tree_tmp_);
}

void MpiCommunicator::do_reduce_scatter_sum(const float* in, float* out, const std::vector<long>& counts,
                                            Numerics num) {
  plan_.build(counts, rank_);
  if (num == Numerics::fast && one_call(plan_.n) && size_ > 1) {
    const std::vector<int> rc(counts.begin(), counts.end());
    enter_in_step(plan_.n);
    check(MPI_Reduce_scatter(in, out, rc.data(), MPI_FLOAT, MPI_SUM, comm_), "MPI_Reduce_scatter");
    return;
  }
  exact_reduce_scatter(plan_, in, out);  // also the fast one's fallback for messages beyond int counts
}

}  // namespace parity::comm_detail
