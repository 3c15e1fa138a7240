// NCCL reduce-scatter, all-gather, all-to-all and broadcast (the algorithms of kernels/comm/reduce_scatter.cpp,
// all_gather.cpp, all_to_all.cpp and broadcast.cpp, on the communicator's stream; every call synchronises).
#include <algorithm>

#include "kernels/comm/detail.hpp"
#include "kernels/comm/nccl_detail.hpp"

namespace parity::nccl_detail {

namespace {
bool all_equal(const std::vector<long>& c) { return std::adjacent_find(c.begin(), c.end(), std::not_equal_to<>()) == c.end(); }
}  // namespace

void NcclCommunicator::enqueue_exact_reduce_scatter(const comm_detail::ExchangePlan& plan, const float* in,
                                                    float* out, const char* what) {
  const int p = plan.p, r = plan.rank;
  const long mine = plan.mine;
  float* recv = scratch(plan.scratch_size());
  // All-to-all: chunk j goes to rank j; rank j's contribution to this rank's chunk lands at rdispls[j].
  check(ncclGroupStart(), "ncclGroupStart");
  for (int j = 0; j < p; ++j) {
    if (j == r) continue;
    if (plan.scounts[j] > 0)
      check(ncclSend(in + plan.sdispls[j], plan.scounts[j], ncclFloat32, j, comm_, stream_), "ncclSend", comm_);
    if (mine > 0) check(ncclRecv(recv + plan.rdispls[j], mine, ncclFloat32, j, comm_, stream_), "ncclRecv", comm_);
  }
  check(ncclGroupEnd(), what, comm_);
  // The plan's leaves, in the kernel's form: the own chunk, the others packed without a gap for this rank.
  Leaves L;
  L.own = in + plan.displs[r];
  L.others = recv;
  L.stride = mine;
  L.self = r;
  L.skip_self = true;
  tree_sum(plan_, L, mine, out, stream_);
}

void NcclCommunicator::do_reduce_scatter_sum(const float* in, float* out, const std::vector<long>& counts,
                                             Numerics num) {
  const int p = size_, r = rank_;
  const long mine = counts[r];
  if (p == 1) {
    if (mine > 0 && in != out)
      check_cuda(cudaMemcpyAsync(out, in, sizeof(float) * mine, cudaMemcpyDeviceToDevice, stream_), "cudaMemcpyAsync");
  } else if (num == Numerics::fast && all_equal(counts)) {
    if (mine > 0) check(ncclReduceScatter(in, out, mine, ncclFloat32, ncclSum, comm_, stream_), "ncclReduceScatter", comm_);
  } else {
    // The exact algorithm (also the fast one's for unequal counts, which ncclReduceScatter cannot take):
    // all-to-all of the chunks as one group, then the ordered tree over the p contributions to this rank's chunk.
    enqueue_exact_reduce_scatter(comm_detail::ExchangePlan(counts, r), in, out, "ncclGroupEnd(reduce-scatter)");
  }
  sync();
}

void NcclCommunicator::do_all_gather(const float* in, float* out, const std::vector<long>& counts) {
  const int p = size_, r = rank_;
  const std::vector<long> displs = comm_detail::displacements(counts);
  float* own = out + displs[r];
  if (counts[r] > 0 && in != own)
    check_cuda(cudaMemcpyAsync(own, in, sizeof(float) * counts[r], cudaMemcpyDeviceToDevice, stream_), "cudaMemcpyAsync");
  if (p > 1 && all_equal(counts)) {
    if (counts[0] > 0) check(ncclAllGather(own, out, counts[0], ncclFloat32, comm_, stream_), "ncclAllGather", comm_);
  } else if (p > 1) {
    // Per-rank counts: every rank sends its part to every other rank, as one group.
    check(ncclGroupStart(), "ncclGroupStart");
    for (int j = 0; j < p; ++j) {
      if (j == r) continue;
      if (counts[r] > 0) check(ncclSend(own, counts[r], ncclFloat32, j, comm_, stream_), "ncclSend", comm_);
      if (counts[j] > 0) check(ncclRecv(out + displs[j], counts[j], ncclFloat32, j, comm_, stream_), "ncclRecv", comm_);
    }
    check(ncclGroupEnd(), "ncclGroupEnd(all-gather)", comm_);
  }
  sync();
}

void NcclCommunicator::do_all_to_all(const float* in, float* out, long chunk) {
  const int p = size_, r = rank_;
  if (chunk > 0) {
    check_cuda(cudaMemcpyAsync(out + long(r) * chunk, in + long(r) * chunk, sizeof(float) * chunk,
                               cudaMemcpyDeviceToDevice, stream_),
               "cudaMemcpyAsync");
    if (p > 1) {
      check(ncclGroupStart(), "ncclGroupStart");
      for (int j = 0; j < p; ++j) {
        if (j == r) continue;
        check(ncclSend(in + long(j) * chunk, chunk, ncclFloat32, j, comm_, stream_), "ncclSend", comm_);
        check(ncclRecv(out + long(j) * chunk, chunk, ncclFloat32, j, comm_, stream_), "ncclRecv", comm_);
      }
      check(ncclGroupEnd(), "ncclGroupEnd(all-to-all)", comm_);
    }
  }
  sync();
}

void NcclCommunicator::do_broadcast(float* buf, long n, int root) {
  if (n > 0 && size_ > 1) check(ncclBroadcast(buf, buf, n, ncclFloat32, root, comm_, stream_), "ncclBroadcast", comm_);
  sync();
}

}  // namespace parity::nccl_detail
