// All-reduce (sum): exact = all-to-all of chunks + ordered local tree + all-gather; fast = MPI_Allreduce.
#include <algorithm>

#include "kernels/comm/detail.hpp"

namespace parity::comm_detail {

void MpiCommunicator::exact_allreduce_segment(float* buf, long m) {
  const int p = size_, r = rank_;
  if (p == 1 || m == 0) return;
  leaves_.resize(p);
  if (allreduce_gathers(m, p)) {
    // Small: every rank gets every rank's whole buffer and evaluates the tree over all of them.
    if (long(scratch_.size()) < p * m) scratch_.resize(p * m);
    float* all = scratch_.data();
    if (p == 2) {
      const int o = 1 - r;
      check(MPI_Sendrecv(buf, int(m), MPI_FLOAT, o, 3, all + o * m, int(m), MPI_FLOAT, o, 3, comm_p2p_,
                         MPI_STATUS_IGNORE),
            "MPI_Sendrecv");
    } else {
      check(MPI_Allgather(buf, int(m), MPI_FLOAT, all, int(m), MPI_FLOAT, comm_), "MPI_Allgather");
    }
    for (int j = 0; j < p; ++j) leaves_[j] = j == r ? buf : all + j * m;
    tree_sum_leaves(leaves_.data(), p, m, buf, tree_tmp_);
    return;
  }
  lcounts_ = chunk_counts(m, p);
  ldispls_ = displacements(lcounts_);
  const long mine = lcounts_[r];
  if (long(scratch_.size()) < (p - 1) * mine) scratch_.resize((p - 1) * mine);
  float* scratch = scratch_.data();
  if (p == 2) {
    // The all-to-all and the all-gather of two ranks are pairwise exchanges.
    const int o = 1 - r;
    check(MPI_Sendrecv(buf + ldispls_[o], int(lcounts_[o]), MPI_FLOAT, o, 1, scratch, int(mine), MPI_FLOAT, o, 1,
                       comm_p2p_, MPI_STATUS_IGNORE),
          "MPI_Sendrecv");
    leaves_[r] = buf + ldispls_[r];
    leaves_[o] = scratch;
    tree_sum_leaves(leaves_.data(), p, mine, buf + ldispls_[r], tree_tmp_);
    check(MPI_Sendrecv(buf + ldispls_[r], int(mine), MPI_FLOAT, o, 2, buf + ldispls_[o], int(lcounts_[o]),
                       MPI_FLOAT, o, 2, comm_p2p_, MPI_STATUS_IGNORE),
          "MPI_Sendrecv");
    return;
  }
  scounts_.assign(p, 0);
  sdispls_.assign(p, 0);
  rcounts_.assign(p, 0);
  rdispls_.assign(p, 0);
  for (int j = 0, slot = 0; j < p; ++j) {
    if (j == r) {
      leaves_[j] = buf + ldispls_[r];
      continue;
    }
    scounts_[j] = lcounts_[j];
    sdispls_[j] = ldispls_[j];
    rcounts_[j] = mine;
    rdispls_[j] = slot * mine;
    leaves_[j] = scratch + slot * mine;
    ++slot;
  }
  // Largest extent on any rank: the segment (send side) or rank 0's (p-1) received contributions.
  const bool fits = one_call(std::max(m, (p - 1) * lcounts_[0]));
  exchange_v(comm_, comm_p2p_, fits, buf, scounts_.data(), sdispls_.data(), scratch, rcounts_.data(),
             rdispls_.data());
  tree_sum_leaves(leaves_.data(), p, mine, buf + ldispls_[r], tree_tmp_);
  allgather_inplace(comm_, comm_p2p_, buf, lcounts_.data(), ldispls_.data());
}

void MpiCommunicator::allreduce_sum(float* buf, long n, Numerics num) {
  const double t0 = now();
  if (num == Numerics::exact) {
    const long seg = std::min(allreduce_segment(), max_count());
    for (long off = 0; off < n; off += seg) exact_allreduce_segment(buf + off, std::min(seg, n - off));
  } else {
    const long m = max_count();
    for (long off = 0; off < n; off += m)
      check(MPI_Allreduce(MPI_IN_PLACE, buf + off, int(std::min(m, n - off)), MPI_FLOAT, MPI_SUM, comm_),
            "MPI_Allreduce");
  }
  stats_.add(num == Numerics::exact ? "allreduce_sum.exact" : "allreduce_sum.fast", double(n) * sizeof(float),
             now() - t0);
}

void MpiCommunicator::allreduce_sum(double* buf, long n) {
  const double t0 = now();
  const long m = max_count();
  for (long off = 0; off < n; off += m)
    check(MPI_Allreduce(MPI_IN_PLACE, buf + off, int(std::min(m, n - off)), MPI_DOUBLE, MPI_SUM, comm_),
          "MPI_Allreduce");
  stats_.add("allreduce_sum.f64", double(n) * sizeof(double), now() - t0);
}

}  // namespace parity::comm_detail
