// All-to-all of equal chunks (MPI_Alltoall, or the pairwise exchange beyond int counts).
#include <stdexcept>

#include "kernels/comm/detail.hpp"

namespace parity::comm_detail {

void MpiCommunicator::all_to_all(const float* in, float* out, long chunk) {
  const double t0 = now();
  if (chunk < 0) throw std::invalid_argument("all_to_all: negative chunk");
  const int p = size_;
  if (chunk * p <= max_count()) {
    check(MPI_Alltoall(in, int(chunk), MPI_FLOAT, out, int(chunk), MPI_FLOAT, comm_), "MPI_Alltoall");
  } else {
    std::vector<long> c(p, chunk), d(p);
    for (int j = 0; j < p; ++j) d[j] = j * chunk;
    exchange_v(comm_, comm_p2p_, /*fits=*/false, in, c.data(), d.data(), out, c.data(), d.data());
  }
  stats_.add("all_to_all", double(chunk) * p * sizeof(float), now() - t0);
}

}  // namespace parity::comm_detail
