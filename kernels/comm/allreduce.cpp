// All-reduce (sum): exact = the exact reduce-scatter (all-to-all of chunks + ordered local tree) + the
// all-gather, or for small buffers one all-gather of whole buffers + the tree on every rank;
// fast = MPI_Allreduce, entered in step (enter_in_step: MPI_Iallreduce, which could simply be timed, is up
// to 2.5x slower).
#include <algorithm>

#include "kernels/comm/detail.hpp"

namespace parity::comm_detail {

void MpiCommunicator::gathered_allreduce(float* buf, long m) {
  const int p = size_, r = rank_;
  if (long(scratch_.size()) < p * m) scratch_.resize(p * m);
  float* all = scratch_.data();
  if (p == 2) {
    pair_exchange(buf, m, all + (1 - r) * m, m, 1 - r, 3);
  } else {
    MPI_Request req;
    check(MPI_Iallgather(buf, int(m), MPI_FLOAT, all, int(m), MPI_FLOAT, comm_, &req), "MPI_Iallgather");
    wait_all(&req, 1, {"MPI_Iallgather"});
  }
  leaves_.resize(p);
  for (int j = 0; j < p; ++j) leaves_[j] = j == r ? buf : all + j * m;
  tree_sum_leaves(leaves_.data(), p, m, buf, tree_tmp_);
}

void MpiCommunicator::exact_allreduce_segment(float* buf, long m) {
  if (size_ == 1 || m == 0) return;
  if (allreduce_gathers(m, size_)) return gathered_allreduce(buf, m);
  plan_.build(chunk_counts(m, size_), rank_);
  exact_reduce_scatter(plan_, buf, buf + plan_.displs[rank_]);  // in place: this rank's chunk
  allgather_inplace(buf, plan_.counts.data(), plan_.displs.data());
}

void MpiCommunicator::do_allreduce_sum(float* buf, long n, Numerics num) {
  if (num == Numerics::exact) {
    const long seg = std::min(allreduce_segment(), max_count());
    for (long off = 0; off < n; off += seg) exact_allreduce_segment(buf + off, std::min(seg, n - off));
    return;
  }
  const long m = max_count();
  for (long off = 0; off < n; off += m) {
    const int c = int(std::min(m, n - off));
    enter_in_step(c);
    check(MPI_Allreduce(MPI_IN_PLACE, buf + off, c, MPI_FLOAT, MPI_SUM, comm_), "MPI_Allreduce");
  }
}

void MpiCommunicator::do_allreduce_sum(double* buf, long n) {
  const long m = max_count();
  for (long off = 0; off < n; off += m) {
    MPI_Request req;
    check(MPI_Iallreduce(MPI_IN_PLACE, buf + off, int(std::min(m, n - off)), MPI_DOUBLE, MPI_SUM, comm_, &req),
          "MPI_Iallreduce(f64)");
    wait_all(&req, 1, {"MPI_Iallreduce(f64)"});
  }
}

}  // namespace parity::comm_detail
