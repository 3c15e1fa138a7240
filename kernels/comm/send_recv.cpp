// Point-to-point (MPI_Isend / MPI_Irecv and a timed wait, split beyond int counts). The receiver must
// expect the same n.
#include "kernels/comm/detail.hpp"

namespace parity::comm_detail {

void MpiCommunicator::do_send(const float* buf, long n, int dest, int tag) { send_pieces(buf, n, dest, tag); }

void MpiCommunicator::do_recv(float* buf, long n, int src, int tag) { recv_pieces(buf, n, src, tag); }

}  // namespace parity::comm_detail
