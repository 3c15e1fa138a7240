// Non-blocking point-to-point send (MPI_Isend). Messages beyond max_count() elements go as several
// requests in order (non-overtaking keeps them in order for the matching recv).
#include <exception>

#include "kernels/comm/detail.hpp"

namespace parity::comm_detail {

namespace {

class SendRequest final : public Communicator::Request {
 public:
  SendRequest(MpiCommunicator* c, int dest, int tag) : c_(c), dest_(dest), tag_(tag) {}
  ~SendRequest() override {
    if (reqs_.empty()) return;
    // While an exception unwinds (a timeout elsewhere), waiting could take another whole timeout.
    if (std::uncaught_exceptions() > 0 || c_->in_error()) {
      c_->abandon(reqs_.data(), int(reqs_.size()), {}, "isend");
      return;
    }
    try {
      wait();
    } catch (...) {
    }
  }
  std::vector<MPI_Request> reqs_;

 protected:
  void do_wait() override {
    c_->wait_all(reqs_.data(), int(reqs_.size()), {"MPI_Isend", dest_, tag_, "isend"});
    reqs_.clear();
  }
  bool do_test() override {
    int done = 1;
    if (!reqs_.empty()) check(MPI_Testall(int(reqs_.size()), reqs_.data(), &done, MPI_STATUSES_IGNORE), "MPI_Testall");
    if (done) reqs_.clear();
    return done != 0;
  }

 private:
  MpiCommunicator* c_;
  int dest_, tag_;
};

}  // namespace

std::unique_ptr<Communicator::Request> MpiCommunicator::do_isend(const float* buf, long n, int dest, int tag) {
  auto r = std::make_unique<SendRequest>(this, dest, tag);
  const long piece = max_count();
  long lo = 0;
  do {  // at least one message, so that n == 0 still matches the receiver's one
    const int len = int(std::min(piece, n - lo));
    r->reqs_.emplace_back();
    check(MPI_Isend(buf + lo, len, MPI_FLOAT, dest, tag, comm_, &r->reqs_.back()), "MPI_Isend");
    lo += len;
  } while (lo < n);
  return r;
}

}  // namespace parity::comm_detail
