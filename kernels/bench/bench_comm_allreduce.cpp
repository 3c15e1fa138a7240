// All-reduce (sum, fp32, in place): Communicator::allreduce_sum exact (the canonical tree over ranks) and
// fast (MPI_Allreduce on the communicator's duplicate) against MPI_Allreduce on MPI_COMM_WORLD.
// Size = the buffer; busbw = algbw * 2(p-1)/p. The harness is in comm_harness.hpp / bench_comm.cpp.
#include <memory>
#include <vector>

#include "kernels/bench/comm_harness.hpp"

namespace parity::bench_comm {

void register_allreduce() {
  register_collective(Coll::allreduce, {"exact", "fast"}, "MPI_Allreduce", [](long bytes) {
    const long n = bytes / long(sizeof(float));
    // Grows by p each call, to inf: never NaN, never denormal.
    auto buf = std::make_shared<std::vector<float>>(n, 1.0f);
    Communicator* comm = world().comm.get();
    Case cs;
    cs.bytes = n * long(sizeof(float));
    cs.ours = {{"exact", [=] { comm->allreduce_sum(buf->data(), n, Numerics::exact); }},
               {"fast", [=] { comm->allreduce_sum(buf->data(), n, Numerics::fast); }}};
    cs.mpi = {"mpi", [=] {
                MPI_Allreduce(MPI_IN_PLACE, buf->data(), int(n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
              }};
    return cs;
  });
}

}  // namespace parity::bench_comm
