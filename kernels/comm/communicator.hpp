// The communication layer: one interface, an MPI implementation and a single-process one.
//
// Numerics (docs/design.md, canonical order rule 5). In `exact` mode a sum over ranks is the pairwise tree over
// rank index — parity::tree_reduce over the ranks' values, split at ceil(p/2), left + right — so every rank
// gets the same bits, whatever order messages arrive in, and the result equals what one process computing
// the tree over all ranks' inputs gets. It is built from collectives whose data movement is fixed: the exact
// reduce-scatter is an all-to-all of chunks (rank r receives chunk r of every rank) and an ordered local tree
// over the p contributions; the exact all-reduce is that reduce-scatter followed by an all-gather, which
// moves the same bytes per rank as a ring all-reduce. Who sends which chunk to whom and which buffers are the
// tree's leaves is one exchange plan (comm/exchange_plan.hpp) shared by all of them. In `fast` mode the
// vendor collective (MPI_Allreduce, MPI_Reduce_scatter) is used and the order is the library's.
//
// Chunking. The exact all-reduce cuts the buffer into p near-equal contiguous chunks (the first n % p ranks
// get one element more; see chunk_counts). On two ranks the all-to-all and the all-gather are each one
// pairwise exchange. Long messages are processed in segments of at most 16 MiB, each cut the same way; small
// ones (latency-bound: up to 128 KiB gathered) instead gather every rank's whole buffer and every rank
// evaluates the tree itself — one exchange instead of two. Since the result is elementwise and every rank
// adds the same leaves in the same order, neither choice changes the bits (comm/detail.hpp has the
// thresholds; kernels/bench/bench_comm measures them against MPI_Allreduce).
//
// Counts are 64-bit throughout. Where an MPI call takes `int` counts or displacements and the message is
// larger, the implementation splits it (point-to-point, broadcast, all-reduce) or moves the data with a
// pairwise exchange of bounded pieces (all-to-all, all-gather, reduce-scatter) — the same data movement.
//
// Arguments. Every public call checks its arguments before any communication (negative counts, a counts
// vector without one entry per rank, peers and roots outside the group, send/recv to this rank, negative
// tags, overlapping buffers where the call forbids it) and throws parity::Error (kernels/error.hpp) naming
// the call and the bad value.
//
// Timeout. Every blocking wait of the MPI communicator (recv, the waits inside collectives, Request::wait)
// polls against a deadline of comm_timeout() seconds; past it, it throws parity::Error naming the operation,
// this rank (in the group and in MPI_COMM_WORLD) and the rank it waits on: a rank that skips a collective
// the others run, or stops progressing, ends the run with a message instead of a hang. The caller is
// expected to report the error and MPI_Abort: the communicator that timed out refuses every further call
// (its messages may be out of step), and requests still in flight are left to MPI.
//
// Statistics. Every call adds one to stats().by_op[<op>].calls, its payload to .bytes and its wall time to
// .seconds. The payload is the size of the caller's buffer on this rank, in bytes: n * sizeof(element) for
// all-reduce, broadcast, send, isend and recv; the input size n * 4 for reduce-scatter; the output size
// sum(counts) * 4 for all-gather; chunk * p * 4 for all-to-all; 0 for barrier. Op names:
//   allreduce_sum.exact  allreduce_sum.fast  allreduce_max  allreduce_sum.f64
//   reduce_scatter_sum.exact  reduce_scatter_sum.fast  all_gather  all_to_all  broadcast  send  recv
//   iallreduce_sum.exact  iallreduce_sum.fast  isend  barrier
// For the non-blocking calls (iallreduce, isend) the seconds are the time spent inside the call and its
// request's wait() and test() — the time the caller is blocked, not the time the transfer is in flight.
//
// Threads: a communicator is used from one thread at a time (MPI_THREAD_SINGLE/FUNNELED is enough).
#pragma once
#include <mpi.h>

#include <climits>
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

// The deadline of every blocking wait of the MPI communicators, in seconds (process-wide; 0 = wait forever;
// default 600). Negative or non-finite values throw parity::Error.
void set_comm_timeout(double seconds);
double comm_timeout();

class Communicator {
 public:
  // A non-blocking operation in flight. wait() and test() are timed into the statistics of the call that
  // made the request; the implementations (do_wait, do_test) are the communicator's.
  class Request {
   public:
    virtual ~Request() = default;
    void wait();
    // Progress without blocking; true once the operation has completed.
    bool test();

   protected:
    virtual void do_wait() = 0;
    virtual bool do_test() = 0;

   private:
    friend class Communicator;
    CommStats* stats_ = nullptr;  // the communicator's (a request must not outlive it)
    const char* op_ = "";
    bool done_ = false;
  };

  virtual ~Communicator() = default;
  int rank() const { return rank_; }
  int size() const { return size_; }

  // Sum over ranks, in place, result on every rank. exact: the canonical pairwise tree over rank index,
  // same bits on every rank and independent of message arrival. fast: MPI_Allreduce.
  void allreduce_sum(float* buf, long n, Numerics num);
  // Maximum over ranks, in place. The same bits in any order: a NaN anywhere gives the canonical quiet NaN,
  // and +0 is taken over -0 (MPI_MAX promises neither).
  void allreduce_max(float* buf, long n);
  // For timing and statistics only (MPI_Allreduce, library order).
  void allreduce_sum(double* buf, long n);
  // Reduce-scatter: in[n] on every rank; rank r receives the sum (exact: tree over ranks) of chunk r, where
  // the chunk boundaries are given by counts[p] (sum = n). out has counts[rank] elements and must not
  // overlap in.
  void reduce_scatter_sum(const float* in, float* out, const std::vector<long>& counts, Numerics num);
  // All-gather with per-rank counts: in has counts[rank] elements, out has sum(counts), rank-ordered.
  // in may be out + (offset of this rank's part), i.e. in place; otherwise the two must not overlap.
  void all_gather(const float* in, float* out, const std::vector<long>& counts);
  // in and out hold p chunks of `chunk` elements; chunk j of in goes to rank j, where it lands as chunk
  // (this rank) of out. in and out must not overlap.
  void all_to_all(const float* in, float* out, long chunk);
  void broadcast(float* buf, long n, int root);
  // Point-to-point with another rank of the group; the receiver must expect the same n. tag >= 0.
  void send(const float* buf, long n, int dest, int tag);
  void recv(float* buf, long n, int src, int tag);

  // Non-blocking all-reduce for gradient buckets (overlap with the backward pass); same numerics as
  // allreduce_sum. buf must stay valid and untouched until the request completes. The request must be
  // completed (wait(), test() returning true, or its destructor, which waits) before the communicator is
  // destroyed, and requests complete collectively: every rank starts the same requests in the same order.
  // Exact mode: MPI_Ialltoallv, then the local tree and MPI_Iallgatherv, driven by wait() or test().
  std::unique_ptr<Request> iallreduce_sum(float* buf, long n, Numerics num);
  // Non-blocking send (pipeline stages send forward while their neighbour sends backward; blocking sends
  // of rendezvous-sized messages would deadlock). buf must stay valid until the request completes.
  std::unique_ptr<Request> isend(const float* buf, long n, int dest, int tag);
  void barrier();

  CommStats& stats() { return stats_; }
  const CommStats& stats() const { return stats_; }

 protected:
  // The implementations: called with checked arguments (counts non-negative, one per rank, peers in the
  // group and not this rank), timed and counted by the public calls above.
  virtual void do_allreduce_sum(float* buf, long n, Numerics num) = 0;
  virtual void do_allreduce_max(float* buf, long n) = 0;
  virtual void do_allreduce_sum(double* buf, long n) = 0;
  virtual void do_reduce_scatter_sum(const float* in, float* out, const std::vector<long>& counts,
                                     Numerics num) = 0;
  virtual void do_all_gather(const float* in, float* out, const std::vector<long>& counts) = 0;
  virtual void do_all_to_all(const float* in, float* out, long chunk) = 0;
  virtual void do_broadcast(float* buf, long n, int root) = 0;
  virtual void do_send(const float* buf, long n, int dest, int tag) = 0;
  virtual void do_recv(float* buf, long n, int src, int tag) = 0;
  virtual std::unique_ptr<Request> do_iallreduce_sum(float* buf, long n, Numerics num) = 0;
  virtual std::unique_ptr<Request> do_isend(const float* buf, long n, int dest, int tag) = 0;
  virtual void do_barrier() = 0;

  // The public call in progress (its statistics name): for the implementations' error messages.
  const char* current_op() const { return op_; }
  // After a timeout the communicator refuses every further call with this message.
  void set_unusable(const std::string& why) { unusable_ = why; }
  bool unusable() const { return !unusable_.empty(); }

  CommStats stats_;
  int rank_ = 0, size_ = 1;
  int max_tag_ = INT_MAX;  // the largest tag the implementation accepts (MPI_TAG_UB)

 private:
  class Call;  // the checks, timing and statistics around one public call (communicator.cpp)
  const char* op_ = "";
  std::string unusable_;
};

// Size 1: every collective is a copy or a no-op (send/recv to self are refused: they would deadlock).
std::unique_ptr<Communicator> make_self_communicator();
// Over the ranks of `comm`. Collective over comm. The communicator works on its own duplicates of comm
// (MPI_Comm_dup), so its traffic never matches the caller's messages; the caller keeps ownership of comm.
// The duplicates are freed by the destructor, which must therefore run before MPI_Finalize on every rank.
// `name` says which group this is in error messages ("pp" reads "the pp group"); empty: the name the caller
// gave comm with MPI_Comm_set_name, if any ("MPI_COMM_WORLD" for the world).
std::unique_ptr<Communicator> make_mpi_communicator(MPI_Comm comm, const std::string& name = "");

}  // namespace parity
