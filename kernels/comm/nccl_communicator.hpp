// The Communicator interface (communicator.hpp) over NCCL, for the CUDA build (PARITY_HAVE_CUDA).
//
// Buffers. Unlike the MPI and self communicators, which take host pointers, every float/double pointer
// given to this communicator must be GPU memory of the device the communicator was made on: cudaMalloc'd
// (Kokkos::CudaSpace) or managed (Kokkos::CudaUVMSpace; works, slower). The data must be ready when the call
// is made (kernels that produce it fenced, or run on the communicator's stream()).
//
// Numerics: the same as the MPI communicator's, and the same bits.
//   exact: the all-reduce is an all-to-all of the p near-equal chunks (chunk_counts) as one group of
//          ncclSend/ncclRecv, the ordered local tree over the p contributions (a CUDA kernel evaluating the
//          canonical pairwise tree of canonical.hpp over rank index, in post-order: the same float additions in
//          the same order as tree_sum_leaves on the host), and an all-gather (ncclAllGather when the chunks are
//          equal, else grouped point-to-point). Small buffers (p * n * 4 <= 128 KiB) gather every rank's whole
//          buffer instead and every rank evaluates the tree. Long buffers go in segments of
//          comm_detail::allreduce_segment() elements. The reduce-scatter is the first two steps.
//   fast:  ncclAllReduce / ncclReduceScatter (NCCL's order; equal counts only, else the exact algorithm).
//   allreduce_max gathers every rank's buffer and takes the order-free maximum (NaN -> the canonical quiet NaN,
//   +0 over -0), as the MPI communicator's does.
//
// Streams. Every call is enqueued on the communicator's own CUDA stream; blocking calls synchronise it before
// they return, iallreduce_sum returns a request whose wait()/test() synchronise/query an event recorded after
// its work. Requests and blocking calls are ordered on that stream, so every rank runs the NCCL operations in
// the order it issued them — the same order on every rank, as the interface requires.
//
// Point-to-point. NCCL has no tags: messages between two ranks match in the order they are posted, so the
// tag is ignored and callers must post in a consistent order (parity's schedules do). A send to a peer blocks
// the GPU until the peer posts the matching receive; to let two neighbours exchange without deadlock (a
// pipeline stage sends forward while its neighbour sends backward), isend() only records the send, and the
// recorded sends are posted in one NCCL group together with the next recv() (or at the request's wait()/
// test(), or the next blocking send()).
//
// Statistics: the same op names and byte counts as communicator.hpp; seconds include the synchronisation.
#pragma once
#include <mpi.h>

#include <memory>

#include "kernels/comm/communicator.hpp"

typedef struct CUstream_st* cudaStream_t;

namespace parity {

// Over the ranks of `comm` (collective over comm: rank 0 makes the NCCL id and broadcasts it over MPI), one
// GPU per rank: the calling thread's current CUDA device (cudaSetDevice before, e.g. by local rank). `stream`:
// the stream to work on; nullptr makes a private non-blocking stream. comm is used only during construction.
std::unique_ptr<Communicator> make_nccl_communicator(MPI_Comm comm, cudaStream_t stream = nullptr);

// The stream a communicator made by make_nccl_communicator works on (nullptr for any other communicator).
cudaStream_t nccl_stream(const Communicator& c);

}  // namespace parity
