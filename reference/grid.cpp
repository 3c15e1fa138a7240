#include "reference/grid.hpp"

#include <mpi.h>

#include "reference/error.hpp"

namespace parity {

ProcessGrid::ProcessGrid(int dp_, int tp_, int pp_) : dp(dp_), tp(tp_), pp(pp_) {
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
  if (world_size == 1) {
    world_ = make_self_communicator();
    dp_comm_ = make_self_communicator();
    tp_comm_ = make_self_communicator();
    pp_comm_ = make_self_communicator();
    return;
  }
  MPI_Comm c;
  world_ = make_mpi_communicator(MPI_COMM_WORLD);
  MPI_Comm_split(MPI_COMM_WORLD, pp_rank * dp + dp_rank, tp_rank, &c);  // same (stage, replica)
  tp_comm_ = make_mpi_communicator(c);
  MPI_Comm_free(&c);
  MPI_Comm_split(MPI_COMM_WORLD, pp_rank * tp + tp_rank, dp_rank, &c);  // same (stage, shard)
  dp_comm_ = make_mpi_communicator(c);
  MPI_Comm_free(&c);
  MPI_Comm_split(MPI_COMM_WORLD, dp_rank * tp + tp_rank, pp_rank, &c);  // same (replica, shard)
  pp_comm_ = make_mpi_communicator(c);
  MPI_Comm_free(&c);
}

}  // namespace parity
