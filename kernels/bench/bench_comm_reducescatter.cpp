// Reduce-scatter (sum, fp32, equal parts): Communicator::reduce_scatter_sum exact (all-to-all of chunks +
// the canonical tree) and fast (MPI_Reduce_scatter with counts on the communicator's duplicate) against
// MPI_Reduce_scatter_block on the same buffers. Size = the whole input (p parts of size/p); busbw = algbw *
// (p-1)/p.
#include <memory>
#include <vector>

#include "kernels/bench/comm_harness.hpp"

namespace parity::bench_comm {

void register_reducescatter() {
  register_collective(Coll::reducescatter, {"exact", "fast"}, "MPI_Reduce_scatter_block", [](long bytes) {
    const int p = world().size;
    const long c = part_floats(bytes, p);
    auto in = std::make_shared<std::vector<float>>(c * p, 1.0f);
    auto out = std::make_shared<std::vector<float>>(c, 0.0f);
    const std::vector<long> counts(p, c);
    Communicator* comm = world().comm.get();
    Case cs;
    cs.bytes = c * p * long(sizeof(float));
    cs.ours = {{"exact", [=] { comm->reduce_scatter_sum(in->data(), out->data(), counts, Numerics::exact); }},
               {"fast", [=] { comm->reduce_scatter_sum(in->data(), out->data(), counts, Numerics::fast); }}};
    cs.mpi = {"mpi", [=] {
                MPI_Reduce_scatter_block(in->data(), out->data(), int(c), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
              }};
    return cs;
  });
}

}  // namespace parity::bench_comm
