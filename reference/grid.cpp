#include "reference/grid.hpp"

#include <mpi.h>

#include <algorithm>
#include <vector>

#include "kernels/error.hpp"

#if defined(PARITY_HAVE_CUDA)
#include "kernels/comm/nccl_communicator.hpp"
#include "kernels/cuda/device_check.hpp"
#endif

namespace parity {

ProcessGrid::ProcessGrid(int dp_, int tp_, int pp_, bool nccl_) : dp(dp_), tp(tp_), pp(pp_), nccl(nccl_) {
  if (dp < 1 || tp < 1 || pp < 1) throw Error("--dp, --tp and --pp must be >= 1");
  MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &world_size);
  if (dp * tp * pp != world_size) {
    std::string fit;
    for (int p = 1; p <= world_size; p *= 2)
      if (world_size % p == 0) fit += (fit.empty() ? "" : ", ") + std::string("--dp ") + std::to_string(world_size / p) + " --tp " + std::to_string(p) + " --pp 1";
    throw Error("the layout --dp " + std::to_string(dp) + " --tp " + std::to_string(tp) + " --pp " +
                std::to_string(pp) + " needs " + std::to_string(dp * tp * pp) + " ranks, but " +
                std::to_string(world_size) + " were started (mpirun -np N with N = dp*tp*pp); with " +
                std::to_string(world_size) + " ranks e.g. " + fit);
  }
  tp_rank = world_rank % tp;
  dp_rank = (world_rank / tp) % dp;
  pp_rank = world_rank / (tp * dp);
#if !defined(PARITY_HAVE_CUDA)
  if (nccl) throw Error("--comm nccl: this build has no NCCL (the CUDA build has it: docs/gpu.md)");
#endif
  if (world_size == 1) {  // nothing to communicate: NCCL or not
    world_ = make_self_communicator();
    dp_comm_ = make_self_communicator();
    tp_comm_ = make_self_communicator();
    pp_comm_ = make_self_communicator();
    return;
  }
#if defined(PARITY_HAVE_CUDA)
  if (nccl) {  // one GPU per rank: NCCL refuses two ranks on one device
    MPI_Comm node;
    int local = 1;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &local);
    MPI_Comm_free(&node);
    const int gpus = cuda::device_count();
    int bad = local > gpus ? 1 : 0;
    MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (bad)
      throw Error("--comm nccl needs one GPU per rank, but a node runs more ranks than it has GPUs (here " +
                  std::to_string(local) + " ranks, " + std::to_string(gpus) +
                  " GPUs); use --comm mpi to share GPUs (a correctness check, docs/gpu.md)");
  }
#endif
  // A data group: NCCL (its MPI twin kept for host data) or MPI.
  auto group = [&](MPI_Comm c, std::unique_ptr<Communicator>& data, std::unique_ptr<Communicator>& host) {
    data = make_mpi_communicator(c);
#if defined(PARITY_HAVE_CUDA)
    if (nccl) {
      host = std::move(data);
      data = make_nccl_communicator(c);
    }
#else
    (void)host;
#endif
  };
  MPI_Comm c;
  world_ = make_mpi_communicator(MPI_COMM_WORLD);
  MPI_Comm_split(MPI_COMM_WORLD, pp_rank * dp + dp_rank, tp_rank, &c);  // same (stage, replica)
  group(c, tp_comm_, host_[1]);
  MPI_Comm_free(&c);
  MPI_Comm_split(MPI_COMM_WORLD, pp_rank * tp + tp_rank, dp_rank, &c);  // same (stage, shard)
  group(c, dp_comm_, host_[0]);
  MPI_Comm_free(&c);
  MPI_Comm_split(MPI_COMM_WORLD, dp_rank * tp + tp_rank, pp_rank, &c);  // same (replica, shard)
  group(c, pp_comm_, host_[2]);
  MPI_Comm_free(&c);
}

namespace {
constexpr long kPiece = 1L << 22;  // 16 MiB of floats per MPI call: int counts, and clear of glibc's mmap churn

template <class T>
void world_allreduce(T* buf, long n, MPI_Datatype type, MPI_Op op) {
  for (long lo = 0; lo < n; lo += kPiece)
    MPI_Allreduce(MPI_IN_PLACE, buf + lo, static_cast<int>(std::min(kPiece, n - lo)), type, op, MPI_COMM_WORLD);
}
}  // namespace

bool ProcessGrid::any(bool flag) {
  int f = flag ? 1 : 0;
  if (world_size > 1) MPI_Allreduce(MPI_IN_PLACE, &f, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  return f != 0;
}

void ProcessGrid::max(double* buf, long n) {
  if (world_size > 1) world_allreduce(buf, n, MPI_DOUBLE, MPI_MAX);
}

void ProcessGrid::sum(double* buf, long n) {
  if (world_size > 1) world_allreduce(buf, n, MPI_DOUBLE, MPI_SUM);
}

void ProcessGrid::sum_disjoint(float* buf, long n) {
  if (world_size > 1) world_allreduce(buf, n, MPI_FLOAT, MPI_SUM);
}

void ProcessGrid::sum_disjoint_to_root(float* buf, long n) {
  if (world_size == 1) return;
  std::vector<float> out(world_rank == 0 ? std::min(kPiece, n) : 0);
  for (long lo = 0; lo < n; lo += kPiece) {
    const int k = static_cast<int>(std::min(kPiece, n - lo));
    MPI_Reduce(buf + lo, world_rank == 0 ? out.data() : nullptr, k, MPI_FLOAT, MPI_SUM, 0, MPI_COMM_WORLD);
    if (world_rank == 0) std::copy(out.begin(), out.begin() + k, buf + lo);
  }
}

}  // namespace parity
