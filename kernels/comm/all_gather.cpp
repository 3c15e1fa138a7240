// All-gather with per-rank counts (one pairwise exchange on two ranks, else MPI_Iallgatherv in place, or
// the pairwise exchange beyond int counts).
#include <cstring>

#include "kernels/comm/detail.hpp"

namespace parity::comm_detail {

void MpiCommunicator::do_all_gather(const float* in, float* out, const std::vector<long>& counts) {
  const std::vector<long> displs = displacements(counts);
  float* own = out + displs[rank_];
  if (counts[rank_] > 0 && in != own) std::memmove(own, in, sizeof(float) * counts[rank_]);
  allgather_inplace(out, counts.data(), displs.data());
}

}  // namespace parity::comm_detail
