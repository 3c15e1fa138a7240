// All-to-all of equal chunks (MPI_Ialltoall, or the pairwise exchange beyond int counts).
#include "kernels/comm/detail.hpp"

namespace parity::comm_detail {

void MpiCommunicator::do_all_to_all(const float* in, float* out, long chunk) {
  const int p = size_;
  if (chunk * p <= max_count()) {
    MPI_Request req;
    check(MPI_Ialltoall(in, int(chunk), MPI_FLOAT, out, int(chunk), MPI_FLOAT, comm_, &req), "MPI_Ialltoall");
    return wait_all(&req, 1, {"MPI_Ialltoall"});
  }
  std::vector<long> c(p, chunk), d(p);
  for (int j = 0; j < p; ++j) d[j] = j * chunk;
  exchange_v(/*fits=*/false, in, c.data(), d.data(), out, c.data(), d.data());
}

}  // namespace parity::comm_detail
