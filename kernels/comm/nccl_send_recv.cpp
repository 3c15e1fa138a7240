// NCCL point-to-point: send, recv, isend. NCCL has no tags (messages between two ranks match in posting
// order) and a send blocks the GPU until the peer's receive is posted, so isend() only records the send and
// the recorded sends are posted in one group with the next recv() or blocking send(), or when the request
// is waited on or tested (nccl_communicator.hpp).
#include "kernels/comm/detail.hpp"
#include "kernels/comm/nccl_detail.hpp"

namespace parity::nccl_detail {

std::shared_ptr<NcclCommunicator::PendingSend> NcclCommunicator::record_send(const float* buf, long n, int dest) {
  auto s = std::make_shared<PendingSend>();
  s->buf = buf;
  s->n = n;
  s->dest = dest;
  check_cuda(cudaEventCreateWithFlags(&s->done, cudaEventDisableTiming), "cudaEventCreate");
  pending_.push_back(s);
  return s;
}

void NcclCommunicator::post_group(const std::function<void()>& extra) {
  check(ncclGroupStart(), "ncclGroupStart");
  for (auto& s : pending_)
    if (s->n > 0) check(ncclSend(s->buf, s->n, ncclFloat32, s->dest, comm_, stream_), "ncclSend", comm_);
  if (extra) extra();
  check(ncclGroupEnd(), "ncclGroupEnd(point-to-point)", comm_);
  for (auto& s : pending_) {
    check_cuda(cudaEventRecord(s->done, stream_), "cudaEventRecord");
    s->posted = true;
  }
  pending_.clear();
}

void NcclCommunicator::do_send(const float* buf, long n, int dest, int /*tag: NCCL matches in order*/) {
  post_group([&] {
    if (n > 0) check(ncclSend(buf, n, ncclFloat32, dest, comm_, stream_), "ncclSend", comm_);
  });
  sync();
}

void NcclCommunicator::do_recv(float* buf, long n, int src, int /*tag*/) {
  post_group([&] {
    if (n > 0) check(ncclRecv(buf, n, ncclFloat32, src, comm_, stream_), "ncclRecv", comm_);
  });
  sync();
}

namespace {

class SendRequest final : public Communicator::Request {
 public:
  SendRequest(NcclCommunicator* c, std::shared_ptr<NcclCommunicator::PendingSend> s) : c_(c), s_(std::move(s)) {}
  ~SendRequest() override {
    try {
      if (!finished_) wait();
    } catch (...) {
    }
    if (s_->done) cudaEventDestroy(s_->done);
    s_->done = nullptr;
  }

 protected:
  void do_wait() override {
    if (!s_->posted) c_->post_group(nullptr);
    check_cuda(cudaEventSynchronize(s_->done), "cudaEventSynchronize");
    finished_ = true;
  }
  bool do_test() override {
    if (!s_->posted) c_->post_group(nullptr);
    const cudaError_t e = cudaEventQuery(s_->done);
    if (e != cudaErrorNotReady) check_cuda(e, "cudaEventQuery");
    finished_ = e == cudaSuccess;
    return finished_;
  }

 private:
  NcclCommunicator* c_;
  std::shared_ptr<NcclCommunicator::PendingSend> s_;
  bool finished_ = false;
};

}  // namespace

std::unique_ptr<Communicator::Request> NcclCommunicator::do_isend(const float* buf, long n, int dest, int /*tag*/) {
  return std::make_unique<SendRequest>(this, record_send(buf, n, dest));
}

}  // namespace parity::nccl_detail
