// The 3-D process grid. World rank = (pp_rank * dp + dp_rank) * tp + tp_rank: tensor-parallel groups are
// innermost (neighbouring ranks, which share a node on a cluster and carry the most traffic), then data
// parallel, then pipeline stages outermost.
#pragma once
#include <memory>

#include "kernels/comm/communicator.hpp"

namespace parity {

// Two sets of groups. The data groups carry the tensors (activations, gradients, parameters): MPI, or with
// nccl = true (CUDA build, --comm nccl) NCCL on device buffers. The host groups are always MPI and carry
// what lives in host memory: the step's loss, the consistency check's hashes.
class ProcessGrid {
 public:
  // Needs MPI initialised; checks that the world size equals dp * tp * pp (parity::Error otherwise, naming
  // what would fit). With one rank, every group is the self communicator. nccl: see above (parity::Error in a
  // build without NCCL, or when a node has more ranks than GPUs: NCCL needs a GPU per rank).
  ProcessGrid(int dp, int tp, int pp, bool nccl = false);
  int dp, tp, pp;
  int world_rank = 0, world_size = 1, dp_rank = 0, tp_rank = 0, pp_rank = 0;
  Communicator& world() { return *world_; }
  Communicator& dp_group() { return *dp_comm_; }
  Communicator& tp_group() { return *tp_comm_; }
  Communicator& pp_group() { return *pp_comm_; }  // rank in it = stage
  Communicator& dp_host() { return host_[0] ? *host_[0] : *dp_comm_; }
  Communicator& tp_host() { return host_[1] ? *host_[1] : *tp_comm_; }
  Communicator& pp_host() { return host_[2] ? *host_[2] : *pp_comm_; }
  bool nccl = false;

  // World-wide reductions of host data (MPI). Each is collective over the world.
  bool any(bool flag);                    // true on every rank if true on one
  void max(double* buf, long n);          // timing: the slowest rank sets the pace
  void sum(double* buf, long n);          // statistics
  // Sums of vectors in which every element is nonzero on at most one rank: exact in any order, so the
  // library's reduction gives the same bits as any other. in place on every rank / to world rank 0 only.
  void sum_disjoint(float* buf, long n);
  void sum_disjoint_to_root(float* buf, long n);

 private:
  std::unique_ptr<Communicator> world_, dp_comm_, tp_comm_, pp_comm_;
  std::unique_ptr<Communicator> host_[3];  // MPI twins of the data groups when those are NCCL
};

}  // namespace parity
