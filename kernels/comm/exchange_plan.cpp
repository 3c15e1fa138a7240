// The exchange plan of the exact collectives (exchange_plan.hpp).
#include "kernels/comm/exchange_plan.hpp"

#include <algorithm>

#include "kernels/comm/detail.hpp"

namespace parity::comm_detail {

void ExchangePlan::build(const std::vector<long>& chunk_counts, int r) {
  p = int(chunk_counts.size());
  rank = r;
  counts = chunk_counts;
  displs = displacements(counts);
  n = displs.empty() ? 0 : displs.back() + counts.back();
  mine = counts[r];
  widest = counts.empty() ? 0 : *std::max_element(counts.begin(), counts.end());
  scounts.assign(p, 0);
  sdispls.assign(p, 0);
  rcounts.assign(p, 0);
  rdispls.assign(p, 0);
  for (int j = 0; j < p; ++j) {
    if (j == r) continue;
    scounts[j] = counts[j];
    sdispls[j] = displs[j];
    rcounts[j] = mine;
    rdispls[j] = slot(j) * mine;
  }
}

void ExchangePlan::leaves(const float* in, const float* scratch, std::vector<const float*>& out) const {
  out.resize(p);
  for (int j = 0; j < p; ++j) out[j] = j == rank ? in + displs[rank] : scratch + slot(j) * mine;
}

}  // namespace parity::comm_detail
