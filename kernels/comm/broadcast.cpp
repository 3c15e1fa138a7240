// Broadcast from root (MPI_Ibcast, split beyond int counts).
#include <algorithm>

#include "kernels/comm/detail.hpp"

namespace parity::comm_detail {

void MpiCommunicator::do_broadcast(float* buf, long n, int root) {
  const long m = max_count();
  for (long off = 0; off < n; off += m) {
    MPI_Request req;
    check(MPI_Ibcast(buf + off, int(std::min(m, n - off)), MPI_FLOAT, root, comm_, &req), "MPI_Ibcast");
    wait_all(&req, 1, {"MPI_Ibcast", root == rank_ ? -1 : root});  // the root waits on everyone
  }
}

}  // namespace parity::comm_detail
