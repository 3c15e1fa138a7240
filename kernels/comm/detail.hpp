// Internals of the communication layer, shared by the one-collective-per-file sources in kernels/comm/.
// Not part of the interface (tests include it to reach the large-count paths).
#pragma once
#include <mpi.h>

#include <chrono>
#include <climits>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "kernels/comm/communicator.hpp"

namespace parity::comm_detail {

// Longest message (elements) handed to one MPI call, and the largest displacement an MPI_*v call may
// carry; larger messages are split. INT_MAX in production; tests lower it to exercise the split paths.
long max_count();
void set_max_count(long m);  // m >= 1; for tests

// Exact all-reduce works on segments of at most this many elements (each segment chunked over the ranks);
// bounds the persistent scratch to (p-1)/p of it. See bench_comm for the choice.
constexpr long kAllreduceSegment = long(1) << 22;  // 4 Mi floats = 16 MiB
long allreduce_segment();          // kAllreduceSegment unless changed (for tuning)
void set_allreduce_segment(long m);
// Small messages: the exact all-reduce gathers every rank's whole buffer (one exchange instead of two, for
// latency-bound sizes) and every rank evaluates the tree over all p buffers — the same bits, since every
// rank adds the same leaves in the same order. Used while the gathered p * m * 4 bytes are at most
// allreduce_gather_bytes(), except for 2 KiB < m * 4 < 8 KiB: there a whole buffer exceeds Open MPI's
// shared-memory eager limit (4 KiB) and goes rendezvous while the halves of the chunked algorithm do not.
// Measured on 2 ranks (Open MPI 4.1, vader): gather 0.8-1.6 us up to 2 KiB (chunks 1.4-2.5), 8.5-23 us for
// 8-64 KiB (chunks 13-24); from 128 KiB the chunked algorithm wins.
constexpr long kAllreduceGatherBytes = 128 << 10;
long allreduce_gather_bytes();
void set_allreduce_gather_bytes(long b);
bool allreduce_gathers(long m, int p);  // the rule above, for a segment of m floats on p ranks

// Wall clock for the statistics.
inline double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Throws std::runtime_error naming the MPI call when rc != MPI_SUCCESS (communicators are created with
// MPI_ERRORS_RETURN).
void check(int rc, const char* what);

// Prefix sums of counts.
std::vector<long> displacements(const std::vector<long>& counts);

// out[i] = the pairwise tree (split at ceil(p/2), left + right) over leaves[0..p)[i], for i in [0, width).
// out may alias any leaf (every output element is written after its inputs were read). Evaluated in
// cache-sized tiles; tmp is scratch kept by the caller.
void tree_sum_leaves(const float* const* leaves, int p, long width, float* out, std::vector<float>& tmp);

// Generalised all-to-all with 64-bit counts: send[sdispls[j] .. + scounts[j]) goes to rank j, where it is
// received into recv[rdispls[me] .. + rcounts[me]). The part to self is copied (memmove; skipped when
// source and destination coincide). Uses MPI_Alltoallv when `fits`, else a pairwise exchange of pieces of
// at most max_count() elements (step s: to rank+s, from rank-s). `fits` must be the same on every rank (a
// function of the global layout: every count and displacement of every rank <= max_count()), since the two
// paths do not match each other. send and recv may overlap only on the pairwise path (MPI forbids aliased
// buffers), which allgather_inplace relies on. The pairwise path sends on `p2p`, a communicator that carries
// no caller's messages (so that a caller's unreceived message can never match).
void exchange_v(MPI_Comm comm, MPI_Comm p2p, bool fits, const float* send, const long* scounts,
                const long* sdispls, float* recv, const long* rcounts, const long* rdispls);

// In-place all-gather with 64-bit counts: rank j's part is buf[displs[j] .. + counts[j]). MPI_Allgatherv
// with MPI_IN_PLACE when it fits max_count(), else the pairwise exchange.
void allgather_inplace(MPI_Comm comm, MPI_Comm p2p, float* buf, const long* counts, const long* displs);

// Whether an exchange whose largest count or displacement (over all ranks) is `extent` may use one MPI call.
inline bool one_call(long extent) { return extent <= max_count(); }

// Point-to-point in pieces of at most max_count() elements (non-overtaking keeps them in order).
void send_pieces(MPI_Comm comm, const void* buf, long n, MPI_Datatype type, int elem_bytes, int dest, int tag);
void recv_pieces(MPI_Comm comm, void* buf, long n, MPI_Datatype type, int elem_bytes, int src, int tag);

// One segment of a non-blocking exact all-reduce: MPI_Ialltoallv in flight (stage 0), then the local tree
// and MPI_Iallgatherv in flight (stage 1), then done (stage 2). The int arrays live as long as the MPI
// requests that read them.
struct NbSegment {
  float* buf = nullptr;   // the segment's part of the caller's buffer
  float* scratch = nullptr;  // (p-1) contributions of this rank's chunk, in rank order without self
  long m = 0;
  std::vector<int> sc, sd, rc, rd, ac, ad;
  MPI_Request req = MPI_REQUEST_NULL;
  int stage = 0;
};

class MpiCommunicator final : public Communicator {
 public:
  explicit MpiCommunicator(MPI_Comm comm);
  ~MpiCommunicator() override;
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void allreduce_sum(float* buf, long n, Numerics num) override;
  void allreduce_max(float* buf, long n) override;
  void allreduce_sum(double* buf, long n) override;
  void reduce_scatter_sum(const float* in, float* out, const std::vector<long>& counts, Numerics num) override;
  void all_gather(const float* in, float* out, const std::vector<long>& counts) override;
  void all_to_all(const float* in, float* out, long chunk) override;
  std::unique_ptr<Request> isend(const float* buf, long n, int dest, int tag) override;
  void broadcast(float* buf, long n, int root) override;
  void send(const float* buf, long n, int dest, int tag) override;
  void recv(float* buf, long n, int src, int tag) override;
  std::unique_ptr<Request> iallreduce_sum(float* buf, long n, Numerics num) override;
  void barrier() override;

  MPI_Comm comm() const { return comm_; }
  // Non-blocking collectives run on two further duplicates of the communicator: one for the operations
  // started in program order (the all-to-all of an exact request, MPI_Iallreduce of a fast one) and one for
  // the all-gathers, which are started in the order the requests were made (a FIFO across requests), so
  // that every rank starts the collectives of each communicator in the same order whatever test() saw.
  MPI_Comm comm_p2p() const { return comm_p2p_; }
  MPI_Comm comm_start() const { return comm_start_; }
  MPI_Comm comm_gather() const { return comm_gather_; }
  void enqueue(NbSegment* s) { pending_.push_back(s); }
  // Move queued segments from stage 0 to stage 1 in FIFO order: blocking until `until` has moved, or
  // (until == nullptr) moving only those whose all-to-all has completed.
  void advance(NbSegment* until);
  // Exact all-reduce of one segment (m <= kAllreduceSegment elements), in place.
  void exact_allreduce_segment(float* buf, long m);
  // Scratch for the local tree and for requests (kept between calls: no malloc churn on large buffers).
  std::vector<float>& tree_tmp() { return tree_tmp_; }
  std::vector<float> take_buffer(long n);
  void give_buffer(std::vector<float>&& b);

 private:
  // comm_: blocking collectives and the caller's send/recv; comm_p2p_: point-to-point inside collectives.
  MPI_Comm comm_ = MPI_COMM_NULL, comm_p2p_ = MPI_COMM_NULL, comm_start_ = MPI_COMM_NULL,
           comm_gather_ = MPI_COMM_NULL;
  std::deque<NbSegment*> pending_;
  int rank_ = 0, size_ = 1;
  MPI_Op max_op_ = MPI_OP_NULL;
  std::vector<float> scratch_, tree_tmp_;
  std::vector<std::vector<float>> pool_;
  std::vector<long> lcounts_, ldispls_, scounts_, sdispls_, rcounts_, rdispls_;
  std::vector<const float*> leaves_;
};

}  // namespace parity::comm_detail
