// All-gather (fp32, in place, as ZeRO-1 gathers its parameter shards): Communicator::all_gather (equal
// counts; MPI_Allgatherv with MPI_IN_PLACE) against MPI_Allgather with MPI_IN_PLACE on the same buffer.
// Size = the whole gathered buffer (p parts of size/p); busbw = algbw * (p-1)/p.
#include <memory>
#include <vector>

#include "kernels/bench/comm_harness.hpp"

namespace parity::bench_comm {

void register_allgather() {
  register_collective(Coll::allgather, {"parity"}, "MPI_Allgather", [](long bytes) {
    const int p = world().size, r = world().rank;
    const long c = part_floats(bytes, p);
    auto buf = std::make_shared<std::vector<float>>(c * p, float(r));
    const std::vector<long> counts(p, c);
    Communicator* comm = world().comm.get();
    Case cs;
    cs.bytes = c * p * long(sizeof(float));
    cs.ours = {{"parity", [=] { comm->all_gather(buf->data() + r * c, buf->data(), counts); }}};
    cs.mpi = {"mpi", [=] {
                MPI_Allgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf->data(), int(c), MPI_FLOAT, MPI_COMM_WORLD);
              }};
    return cs;
  });
}

}  // namespace parity::bench_comm
