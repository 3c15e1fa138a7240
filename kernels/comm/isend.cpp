// Non-blocking point-to-point send (MPI_Isend). Messages beyond max_count() elements go as several
// requests in order (non-overtaking keeps them in order for the matching recv_pieces).
#include <stdexcept>

#include "kernels/comm/detail.hpp"

namespace parity::comm_detail {

namespace {
struct SendRequest final : Communicator::Request {
  std::vector<MPI_Request> reqs;
  CommStats* stats = nullptr;
  double bytes = 0;
  void wait() override {
    const double t0 = now();
    if (!reqs.empty()) check(MPI_Waitall(static_cast<int>(reqs.size()), reqs.data(), MPI_STATUSES_IGNORE), "MPI_Waitall");
    reqs.clear();
    if (stats) stats->add("isend.wait", 0, now() - t0);
  }
  bool test() override {
    int done = 1;
    if (!reqs.empty()) check(MPI_Testall(static_cast<int>(reqs.size()), reqs.data(), &done, MPI_STATUSES_IGNORE), "MPI_Testall");
    if (done) reqs.clear();
    return done != 0;
  }
  ~SendRequest() override {
    if (!reqs.empty()) MPI_Waitall(static_cast<int>(reqs.size()), reqs.data(), MPI_STATUSES_IGNORE);
  }
};
}  // namespace

std::unique_ptr<Communicator::Request> MpiCommunicator::isend(const float* buf, long n, int dest, int tag) {
  const double t0 = now();
  if (dest < 0 || dest >= size_) throw std::invalid_argument("isend: destination out of range");
  if (n < 0) throw std::invalid_argument("isend: negative count");
  auto r = std::make_unique<SendRequest>();
  r->stats = &stats_;
  const long piece = max_count();
  for (long lo = 0; lo < n || (n == 0 && lo == 0); lo += piece) {
    const int len = static_cast<int>(std::min(piece, n - lo));
    r->reqs.emplace_back();
    check(MPI_Isend(buf + lo, len, MPI_FLOAT, dest, tag, comm_, &r->reqs.back()), "MPI_Isend");
    if (n == 0) break;
  }
  stats_.add("isend", double(n) * sizeof(float), now() - t0);
  return r;
}

}  // namespace parity::comm_detail
