// All-gather with per-rank counts (MPI_Allgatherv in place, or the pairwise exchange beyond int counts).
#include <cstring>
#include <numeric>
#include <stdexcept>

#include "kernels/comm/detail.hpp"

namespace parity::comm_detail {

void MpiCommunicator::all_gather(const float* in, float* out, const std::vector<long>& counts) {
  const double t0 = now();
  if (int(counts.size()) != size_) throw std::invalid_argument("all_gather: counts must have one entry per rank");
  for (long c : counts)
    if (c < 0) throw std::invalid_argument("all_gather: negative count");
  const std::vector<long> displs = displacements(counts);
  float* own = out + displs[rank_];
  if (counts[rank_] > 0 && in != own) std::memmove(own, in, sizeof(float) * counts[rank_]);
  allgather_inplace(comm_, comm_p2p_, out, counts.data(), displs.data());
  stats_.add("all_gather", double(std::accumulate(counts.begin(), counts.end(), 0L)) * sizeof(float), now() - t0);
}

}  // namespace parity::comm_detail
