// All-to-all (fp32, equal chunks): Communicator::all_to_all (MPI_Alltoall on the communicator's duplicate)
// against MPI_Alltoall on the same buffers. Size = the whole input (p chunks of size/p); busbw = algbw *
// (p-1)/p.
#include <memory>
#include <vector>

#include "kernels/bench/comm_harness.hpp"

namespace parity::bench_comm {

void register_alltoall() {
  register_collective(Coll::alltoall, {"parity"}, "MPI_Alltoall", [](long bytes) {
    const int p = world().size;
    const long c = part_floats(bytes, p);
    auto in = std::make_shared<std::vector<float>>(c * p, float(world().rank));
    auto out = std::make_shared<std::vector<float>>(c * p, 0.0f);
    Communicator* comm = world().comm.get();
    Case cs;
    cs.bytes = c * p * long(sizeof(float));
    cs.ours = {{"parity", [=] { comm->all_to_all(in->data(), out->data(), c); }}};
    cs.mpi = {"mpi", [=] {
                MPI_Alltoall(in->data(), int(c), MPI_FLOAT, out->data(), int(c), MPI_FLOAT, MPI_COMM_WORLD);
              }};
    return cs;
  });
}

}  // namespace parity::bench_comm
