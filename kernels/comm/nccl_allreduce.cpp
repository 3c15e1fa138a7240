// NCCL all-reduce (sum), blocking and non-blocking. exact = grouped point-to-point all-to-all of chunks +
// ordered local tree (kernel) + all-gather, or, for small buffers, an all-gather of whole buffers + the tree;
// fast = ncclAllReduce. The same algorithm as kernels/comm/allreduce.cpp, on the communicator's stream.
#include <algorithm>

#include "kernels/comm/detail.hpp"
#include "kernels/comm/nccl_detail.hpp"

namespace parity::nccl_detail {

namespace {
// Small buffers: gather whole buffers while the gathered bytes stay within this (as comm/detail.hpp's
// kAllreduceGatherBytes; NCCL has no eager-limit corner to avoid).
bool gathers(long m, int p) { return long(p) * m * long(sizeof(float)) <= comm_detail::allreduce_gather_bytes(); }
}  // namespace

void NcclCommunicator::exact_allreduce_segment(float* buf, long m) {
  const int p = size_, r = rank_;
  if (p == 1 || m == 0) return;
  if (gathers(m, p)) {
    float* all = scratch(long(p) * m);
    check(ncclAllGather(buf, all, m, ncclFloat32, comm_, stream_), "ncclAllGather", comm_);
    Leaves L;
    L.own = all + long(r) * m;
    L.others = all;
    L.stride = m;
    L.self = -1;  // every leaf from the gathered copy (this rank's own is the same values)
    tree_sum(plan_, L, m, buf, stream_);
    return;
  }
  const comm_detail::ExchangePlan plan(chunk_counts(m, p), r);
  const std::vector<long>& counts = plan.counts;
  const std::vector<long>& displs = plan.displs;
  const long mine = plan.mine;
  enqueue_exact_reduce_scatter(plan, buf, buf + displs[r], "ncclGroupEnd(all-to-all)");
  // All-gather of the reduced chunks, in place.
  if (m % p == 0) {
    check(ncclAllGather(buf + displs[r], buf, mine, ncclFloat32, comm_, stream_), "ncclAllGather", comm_);
  } else {
    check(ncclGroupStart(), "ncclGroupStart");
    for (int j = 0; j < p; ++j) {
      if (j == r) continue;
      if (mine > 0) check(ncclSend(buf + displs[r], mine, ncclFloat32, j, comm_, stream_), "ncclSend", comm_);
      if (counts[j] > 0)
        check(ncclRecv(buf + displs[j], counts[j], ncclFloat32, j, comm_, stream_), "ncclRecv", comm_);
    }
    check(ncclGroupEnd(), "ncclGroupEnd(all-gather)", comm_);
  }
}

void NcclCommunicator::enqueue_allreduce(float* buf, long n, Numerics num) {
  if (n <= 0 || size_ == 1) return;
  if (num == Numerics::exact) {
    const long seg = comm_detail::allreduce_segment();
    for (long off = 0; off < n; off += seg) exact_allreduce_segment(buf + off, std::min(seg, n - off));
  } else {
    check(ncclAllReduce(buf, buf, n, ncclFloat32, ncclSum, comm_, stream_), "ncclAllReduce", comm_);
  }
}

void NcclCommunicator::do_allreduce_sum(float* buf, long n, Numerics num) {
  enqueue_allreduce(buf, n, num);
  sync();
}

namespace {

// The work is queued on the communicator's stream; an event after it says when the result is in buf.
class EventRequest final : public Communicator::Request {
 public:
  explicit EventRequest(NcclCommunicator* c) {
    check_cuda(cudaEventCreateWithFlags(&done_, cudaEventDisableTiming), "cudaEventCreate");
    check_cuda(cudaEventRecord(done_, c->stream()), "cudaEventRecord");
  }
  ~EventRequest() override {
    if (!finished_) cudaEventSynchronize(done_);
    cudaEventDestroy(done_);
  }

 protected:
  void do_wait() override {
    check_cuda(cudaEventSynchronize(done_), "cudaEventSynchronize");
    finished_ = true;
  }
  bool do_test() override {
    const cudaError_t e = cudaEventQuery(done_);
    if (e != cudaErrorNotReady) check_cuda(e, "cudaEventQuery");
    finished_ = e == cudaSuccess;
    return finished_;
  }

 private:
  cudaEvent_t done_ = nullptr;
  bool finished_ = false;
};

}  // namespace

std::unique_ptr<Communicator::Request> NcclCommunicator::do_iallreduce_sum(float* buf, long n, Numerics num) {
  enqueue_allreduce(buf, n, num);
  return std::make_unique<EventRequest>(this);
}

}  // namespace parity::nccl_detail
