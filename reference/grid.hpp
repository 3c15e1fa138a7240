// The 3-D process grid. World rank = (pp_rank * dp + dp_rank) * tp + tp_rank: tensor-parallel groups are
// innermost (neighbouring ranks, which share a node on a cluster and carry the most traffic), then data
// parallel, then pipeline stages outermost.
#pragma once
#include <memory>

#include "kernels/comm/communicator.hpp"

namespace parity {

class ProcessGrid {
 public:
  // Needs MPI initialised; checks that the world size equals dp * tp * pp (parity::Error otherwise, naming
  // what would fit). With one rank, every group is the self communicator.
  ProcessGrid(int dp, int tp, int pp);
  int dp, tp, pp;
  int world_rank = 0, world_size = 1, dp_rank = 0, tp_rank = 0, pp_rank = 0;
  Communicator& world() { return *world_; }
  Communicator& dp_group() { return *dp_comm_; }
  Communicator& tp_group() { return *tp_comm_; }
  Communicator& pp_group() { return *pp_comm_; }  // rank in it = stage

 private:
  std::unique_ptr<Communicator> world_, dp_comm_, tp_comm_, pp_comm_;
};

}  // namespace parity
