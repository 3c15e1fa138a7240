// Point-to-point (MPI_Send / MPI_Recv, split beyond int counts). The receiver must expect the same n.
#include <stdexcept>

#include "kernels/comm/detail.hpp"

namespace parity::comm_detail {

void MpiCommunicator::send(const float* buf, long n, int dest, int tag) {
  const double t0 = now();
  if (dest < 0 || dest >= size_) throw std::invalid_argument("send: destination out of range");
  if (n < 0) throw std::invalid_argument("send: negative count");
  send_pieces(comm_, buf, n, MPI_FLOAT, sizeof(float), dest, tag);
  stats_.add("send", double(n) * sizeof(float), now() - t0);
}

void MpiCommunicator::recv(float* buf, long n, int src, int tag) {
  const double t0 = now();
  if (src < 0 || src >= size_) throw std::invalid_argument("recv: source out of range");
  if (n < 0) throw std::invalid_argument("recv: negative count");
  recv_pieces(comm_, buf, n, MPI_FLOAT, sizeof(float), src, tag);
  stats_.add("recv", double(n) * sizeof(float), now() - t0);
}

}  // namespace parity::comm_detail
