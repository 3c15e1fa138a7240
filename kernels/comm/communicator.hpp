// The communication layer: one interface, an MPI implementation and a single-process one.
//
// Numerics (DESIGN.md, canonical order rule 5). In `exact` mode a sum over ranks is the pairwise tree over
// rank index — parity::tree_reduce over the ranks' values, split at ceil(p/2), left + right — so every rank
// gets the same bits, whatever order messages arrive in, and the result equals what one process computing
// the tree over all ranks' inputs gets. It is built from collectives whose data movement is fixed: an
// all-to-all of chunks (rank r receives chunk r of every rank), an ordered local tree over the p
// contributions, and an all-gather; that moves the same bytes per rank as a ring all-reduce. In `fast` mode
// the vendor collective (MPI_Allreduce, MPI_Reduce_scatter) is used and the order is the library's.
//
// Chunking. The exact all-reduce cuts the buffer into p near-equal contiguous chunks (the first n % p ranks
// get one element more; see chunk_counts). On two ranks the all-to-all and the all-gather are each one
// MPI_Sendrecv. Long messages are processed in segments of at most 16 MiB, each cut the same way; small ones
// (latency-bound: up to 128 KiB gathered) instead gather every rank's whole buffer and every rank evaluates
// the tree itself — one exchange instead of two. Since the result is elementwise and every rank adds the
// same leaves in the same order, neither choice changes the bits (comm/detail.hpp has the thresholds;
// kernels/bench/bench_comm measures them against MPI_Allreduce).
//
// Counts are 64-bit throughout. Where an MPI call takes `int` counts or displacements and the message is
// larger, the implementation splits it (point-to-point, broadcast, all-reduce) or moves the data with a
// pairwise exchange of bounded pieces (all-to-all, all-gather, reduce-scatter) — the same data movement.
//
// Statistics. Every call adds one to stats().by_op[<op>].calls, its payload to .bytes and its wall time to
// .seconds. The payload is the size of the caller's buffer on this rank, in bytes: n * sizeof(element) for
// all-reduce, broadcast, send and recv; the input size n * 4 for reduce-scatter; the output size
// sum(counts) * 4 for all-gather; chunk * p * 4 for all-to-all; 0 for barrier. Op names:
//   allreduce_sum.exact  allreduce_sum.fast  allreduce_max  allreduce_sum.f64
//   reduce_scatter_sum.exact  reduce_scatter_sum.fast  all_gather  all_to_all  broadcast  send  recv
//   iallreduce_sum.exact  iallreduce_sum.fast  barrier
// For iallreduce the seconds are the time spent inside iallreduce(), wait() and test() — the time the
// caller is blocked, not the time the transfer is in flight.
//
// Threads: a communicator is used from one thread at a time (MPI_THREAD_SINGLE/FUNNELED is enough).
#pragma once
#include <mpi.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kernels/numerics.hpp"

namespace parity {

struct CommStats {
  struct Entry {
    long calls = 0;
    double bytes = 0, seconds = 0;
  };
  std::map<std::string, Entry> by_op;
  double total_seconds() const;
  double total_bytes() const;
  void reset();
  void add(const std::string& op, double bytes, double seconds);  // calls += 1
};

// Near-equal contiguous chunks of n elements over p ranks: the first n % p ranks get one element more.
std::vector<long> chunk_counts(long n, int p);

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;

  // Sum over ranks, in place, result on every rank. exact: the canonical pairwise tree over rank index,
  // same bits on every rank and independent of message arrival. fast: MPI_Allreduce.
  virtual void allreduce_sum(float* buf, long n, Numerics num) = 0;
  // Maximum over ranks, in place. The same bits in any order: a NaN anywhere gives the canonical quiet NaN,
  // and +0 is taken over -0 (MPI_MAX promises neither).
  virtual void allreduce_max(float* buf, long n) = 0;
  // For timing and statistics only (MPI_Allreduce, library order).
  virtual void allreduce_sum(double* buf, long n) = 0;
  // Reduce-scatter: in[n] on every rank; rank r receives the sum (exact: tree over ranks) of chunk r, where
  // the chunk boundaries are given by counts[p] (sum = n). out has counts[rank] elements and must not
  // overlap in.
  virtual void reduce_scatter_sum(const float* in, float* out, const std::vector<long>& counts, Numerics num) = 0;
  // All-gather with per-rank counts: in has counts[rank] elements, out has sum(counts), rank-ordered.
  // in may be out + (offset of this rank's part), i.e. in place.
  virtual void all_gather(const float* in, float* out, const std::vector<long>& counts) = 0;
  // in and out hold p chunks of `chunk` elements; chunk j of in goes to rank j, where it lands as chunk
  // (this rank) of out. in and out must not overlap.
  virtual void all_to_all(const float* in, float* out, long chunk) = 0;
  virtual void broadcast(float* buf, long n, int root) = 0;
  virtual void send(const float* buf, long n, int dest, int tag) = 0;
  virtual void recv(float* buf, long n, int src, int tag) = 0;

  // Non-blocking all-reduce for gradient buckets (overlap with the backward pass); same numerics as
  // allreduce_sum. buf must stay valid and untouched until the request completes. The request must be
  // completed (wait(), test() returning true, or its destructor, which waits) before the communicator is
  // destroyed, and requests complete collectively: every rank starts the same requests in the same order.
  // Exact mode: MPI_Ialltoallv, then the local tree and MPI_Iallgatherv, driven by wait() or test().
  struct Request {
    virtual ~Request() = default;
    virtual void wait() = 0;
    // Progress without blocking; true once the result is in buf.
    virtual bool test() = 0;
  };
  virtual std::unique_ptr<Request> iallreduce_sum(float* buf, long n, Numerics num) = 0;
  // Non-blocking send (pipeline stages send forward while their neighbour sends backward; blocking sends
  // of rendezvous-sized messages would deadlock). buf must stay valid until the request completes.
  virtual std::unique_ptr<Request> isend(const float* buf, long n, int dest, int tag) = 0;
  virtual void barrier() = 0;

  CommStats& stats() { return stats_; }
  const CommStats& stats() const { return stats_; }

 protected:
  CommStats stats_;
};

// Size 1: every collective is a copy or a no-op (send/recv to self are refused: they would deadlock).
std::unique_ptr<Communicator> make_self_communicator();
// Over the ranks of `comm`. Collective over comm. The communicator works on its own duplicate of comm
// (MPI_Comm_dup), so its traffic never matches the caller's messages; the caller keeps ownership of comm.
// The duplicate is freed by the destructor, which must therefore run before MPI_Finalize on every rank.
std::unique_ptr<Communicator> make_mpi_communicator(MPI_Comm comm);

}  // namespace parity
