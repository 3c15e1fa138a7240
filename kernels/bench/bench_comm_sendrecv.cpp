// Send/receive in a ring (fp32): every rank sends to rank+1 and receives from rank-1 at the same time, as
// neighbouring pipeline stages do. Ours: Communicator::isend + recv + wait (blocking sends of
// rendezvous-sized messages would deadlock); against MPI_Sendrecv on the same buffers. On one rank, each
// rank sends to itself. Size = the message; busbw = algbw.
#include <memory>
#include <vector>

#include "kernels/bench/comm_harness.hpp"

namespace parity::bench_comm {

void register_sendrecv() {
  register_collective(Coll::sendrecv, {"parity"}, "MPI_Sendrecv", [](long bytes) {
    const int p = world().size, r = world().rank;
    const int next = (r + 1) % p, prev = (r - 1 + p) % p;
    const long n = bytes / long(sizeof(float));
    auto send = std::make_shared<std::vector<float>>(n, float(r));
    auto recv = std::make_shared<std::vector<float>>(n, 0.0f);
    Communicator* comm = world().comm.get();
    Case cs;
    cs.bytes = n * long(sizeof(float));
    cs.ours = {{"parity", [=] {
                  auto req = comm->isend(send->data(), n, next, 7);
                  comm->recv(recv->data(), n, prev, 7);
                  req->wait();
                }}};
    cs.mpi = {"mpi", [=] {
                MPI_Sendrecv(send->data(), int(n), MPI_FLOAT, next, 7, recv->data(), int(n), MPI_FLOAT, prev, 7,
                             MPI_COMM_WORLD, MPI_STATUS_IGNORE);
              }};
    return cs;
  });
}

}  // namespace parity::bench_comm
