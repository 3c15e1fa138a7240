// Broadcast from root (MPI_Bcast, split beyond int counts).
#include <algorithm>
#include <stdexcept>

#include "kernels/comm/detail.hpp"

namespace parity::comm_detail {

void MpiCommunicator::broadcast(float* buf, long n, int root) {
  const double t0 = now();
  if (root < 0 || root >= size_) throw std::invalid_argument("broadcast: root out of range");
  const long m = max_count();
  for (long off = 0; off < n; off += m)
    check(MPI_Bcast(buf + off, int(std::min(m, n - off)), MPI_FLOAT, root, comm_), "MPI_Bcast");
  stats_.add("broadcast", double(n) * sizeof(float), now() - t0);
}

}  // namespace parity::comm_detail
