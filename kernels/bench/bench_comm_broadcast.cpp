// Broadcast from rank 0 (fp32): Communicator::broadcast (MPI_Bcast on the communicator's duplicate) against
// MPI_Bcast on the same buffer. Size = the buffer; busbw = algbw.
#include <memory>
#include <vector>

#include "kernels/bench/comm_harness.hpp"

namespace parity::bench_comm {

void register_broadcast() {
  register_collective(Coll::broadcast, {"parity"}, "MPI_Bcast", [](long bytes) {
    const long n = bytes / long(sizeof(float));
    auto buf = std::make_shared<std::vector<float>>(n, float(world().rank));
    Communicator* comm = world().comm.get();
    Case cs;
    cs.bytes = n * long(sizeof(float));
    cs.ours = {{"parity", [=] { comm->broadcast(buf->data(), n, 0); }}};
    cs.mpi = {"mpi", [=] { MPI_Bcast(buf->data(), int(n), MPI_FLOAT, 0, MPI_COMM_WORLD); }};
    return cs;
  });
}

}  // namespace parity::bench_comm
