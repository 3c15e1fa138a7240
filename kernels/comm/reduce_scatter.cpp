// Reduce-scatter (sum) with per-rank counts: exact = all-to-all of chunks + ordered local tree;
// fast = MPI_Reduce_scatter.
#include <algorithm>
#include <numeric>
#include <stdexcept>

#include "kernels/comm/detail.hpp"

namespace parity::comm_detail {

void MpiCommunicator::reduce_scatter_sum(const float* in, float* out, const std::vector<long>& counts,
                                         Numerics num) {
  const double t0 = now();
  const int p = size_, r = rank_;
  if (int(counts.size()) != p) throw std::invalid_argument("reduce_scatter_sum: counts must have one entry per rank");
  for (long c : counts)
    if (c < 0) throw std::invalid_argument("reduce_scatter_sum: negative count");
  const long n = std::accumulate(counts.begin(), counts.end(), 0L);
  const std::vector<long> displs = displacements(counts);
  const long mine = counts[r];
  if (num == Numerics::fast && one_call(n) && p > 1) {
    std::vector<int> rc(counts.begin(), counts.end());
    check(MPI_Reduce_scatter(in, out, rc.data(), MPI_FLOAT, MPI_SUM, comm_), "MPI_Reduce_scatter");
  } else {
    // The exact algorithm (also the fast one's fallback for messages beyond int counts).
    if (long(scratch_.size()) < (p - 1) * mine) scratch_.resize((p - 1) * mine);
    float* scratch = scratch_.data();
    scounts_.assign(p, 0);
    sdispls_.assign(p, 0);
    rcounts_.assign(p, 0);
    rdispls_.assign(p, 0);
    leaves_.resize(p);
    for (int j = 0, slot = 0; j < p; ++j) {
      if (j == r) {
        leaves_[j] = in + displs[r];
        continue;
      }
      scounts_[j] = counts[j];
      sdispls_[j] = displs[j];
      rcounts_[j] = mine;
      rdispls_[j] = slot * mine;
      leaves_[j] = scratch + slot * mine;
      ++slot;
    }
    const long widest = *std::max_element(counts.begin(), counts.end());
    if (p > 1)
      exchange_v(comm_, comm_p2p_, one_call(std::max(n, (p - 1) * widest)), in, scounts_.data(), sdispls_.data(),
                 scratch, rcounts_.data(), rdispls_.data());
    tree_sum_leaves(leaves_.data(), p, mine, out, tree_tmp_);
  }
  stats_.add(num == Numerics::exact ? "reduce_scatter_sum.exact" : "reduce_scatter_sum.fast",
             double(n) * sizeof(float), now() - t0);
}

}  // namespace parity::comm_detail
