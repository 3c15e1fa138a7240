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
#include "kernels/comm/exchange_plan.hpp"

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

// Wall clock for the statistics and the timeouts.
inline double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Throws parity::Error naming the MPI call when rc != MPI_SUCCESS (communicators are created with
// MPI_ERRORS_RETURN).
void check(int rc, const char* what);

// Prefix sums of counts.
std::vector<long> displacements(const std::vector<long>& counts);

// out[i] = the pairwise tree (split at ceil(p/2), left + right) over leaves[0..p)[i], for i in [0, width).
// out may alias any leaf (every output element is written after its inputs were read). Evaluated in
// cache-sized tiles; tmp is scratch kept by the caller.
void tree_sum_leaves(const float* const* leaves, int p, long width, float* out, std::vector<float>& tmp);

// Whether an exchange whose largest count or displacement (over all ranks) is `extent` may use one MPI call.
inline bool one_call(long extent) { return extent <= max_count(); }

// Polls reqs[0, n) with MPI_Testall until all have completed (true; statuses filled as by MPI_Waitall) or
// `limit` seconds have passed (false; the requests are left as they are). Between polls it spins, then
// yields the core, then naps a small fraction of the time waited so far (wait.cpp has the schedule).
bool poll_all(MPI_Request* reqs, int n, MPI_Status* statuses, double limit, const char* call);

// What a blocking wait is waiting for, for the timeout's message.
struct WaitFor {
  const char* call;          // the MPI operation: "MPI_Irecv", "MPI_Iallgatherv"
  int peer = -1;             // the group rank it waits on; -1: the collective's other ranks
  int tag = -1;              // the caller's tag (point-to-point); -1: none worth showing
  const char* op = nullptr;  // the Communicator operation; nullptr: the public call in progress
};

// One segment of a non-blocking exact all-reduce: MPI_Ialltoallv in flight (stage 0), then the local tree
// and MPI_Iallgatherv in flight (stage 1), then done (stage 2). The plan and its int copies live as long as
// the MPI requests that read them.
struct NbSegment {
  float* buf = nullptr;      // the segment's part of the caller's buffer
  float* scratch = nullptr;  // (p-1) contributions of this rank's chunk, in rank order without self
  ExchangePlan plan;
  std::vector<int> sc, sd, rc, rd, ac, ad;
  MPI_Request req = MPI_REQUEST_NULL;
  int stage = 0;
};

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator(MPI_Comm comm, const std::string& name);
  ~MpiCommunicator() override;

  // Non-blocking collectives run on two further duplicates of the communicator: one for the operations
  // started in program order (the all-to-all of an exact request, MPI_Iallreduce of a fast one) and one for
  // the all-gathers, which are started in the order the requests were made (a FIFO across requests), so
  // that every rank starts the collectives of each communicator in the same order whatever test() saw.
  MPI_Comm comm() const { return comm_; }
  MPI_Comm comm_start() const { return comm_start_; }
  void enqueue(NbSegment* s) { pending_.push_back(s); }
  // Move queued segments from stage 0 to stage 1 in FIFO order: waiting until `until` has moved, or
  // (until == nullptr) moving only those whose all-to-all has completed.
  void advance(NbSegment* until);
  // Drops the segments segs[0, n) from the queue (their request was abandoned).
  void forget(const NbSegment* segs, size_t n);
  // Scratch for requests (kept between calls: no malloc churn on large buffers).
  std::vector<float> take_buffer(long n);
  void give_buffer(std::vector<float>&& b);

  // Waits for reqs[0, n) (MPI_Waitall when comm_timeout() is 0). Past the timeout it keeps the requests
  // (MPI may still complete them), makes the communicator unusable and throws parity::Error describing w.
  void wait_all(MPI_Request* reqs, int n, const WaitFor& w, MPI_Status* statuses = MPI_STATUSES_IGNORE);
  // For a request destroyed by an exception's unwinding before it completed: MPI keeps its requests, the
  // buffer they may still write stays allocated, and the communicator becomes unusable (its collectives
  // are out of step with the other ranks').
  void abandon(MPI_Request* reqs, int n, std::vector<float>&& buf, const char* op);
  // Before a blocking MPI collective of `count` elements on comm_ (the fast all-reduce and reduce-scatter,
  // whose non-blocking forms are up to 2.5x slower in Open MPI: bench_comm), with a timeout: a timed
  // MPI_Iallreduce of four numbers checks that every rank of the group is at the same guarded call (a
  // sequence number) with the same count, so the blocking call is entered by all ranks together or by none.
  // A rank that skipped a call shows up as a mismatch (parity::Error, naming both ends of the range), a rank
  // that is elsewhere as a timeout. Without a timeout it does nothing.
  void enter_in_step(long count);
  bool in_error() const { return unusable(); }

 protected:
  void do_allreduce_sum(float* buf, long n, Numerics num) override;
  void do_allreduce_max(float* buf, long n) override;
  void do_allreduce_sum(double* buf, long n) override;
  void do_reduce_scatter_sum(const float* in, float* out, const std::vector<long>& counts, Numerics num) override;
  void do_all_gather(const float* in, float* out, const std::vector<long>& counts) override;
  void do_all_to_all(const float* in, float* out, long chunk) override;
  void do_broadcast(float* buf, long n, int root) override;
  void do_send(const float* buf, long n, int dest, int tag) override;
  void do_recv(float* buf, long n, int src, int tag) override;
  std::unique_ptr<Request> do_iallreduce_sum(float* buf, long n, Numerics num) override;
  std::unique_ptr<Request> do_isend(const float* buf, long n, int dest, int tag) override;
  void do_barrier() override;

 private:
  // Exact all-reduce of one segment (m <= kAllreduceSegment elements), in place: the gathered form for
  // small m, else the reduce-scatter of the plan's chunks and the all-gather.
  void exact_allreduce_segment(float* buf, long m);
  void gathered_allreduce(float* buf, long m);
  // The exact reduce-scatter of the plan: all-to-all of the chunks, then the tree over the p contributions
  // to this rank's chunk into out (which may be this rank's chunk of in).
  void exact_reduce_scatter(const ExchangePlan& plan, const float* in, float* out);
  // Generalised all-to-all with 64-bit counts: send[sdispls[j] .. + scounts[j]) goes to rank j, where it is
  // received into recv[rdispls[me] .. + rcounts[me]). The part to self is copied (memmove; skipped when
  // source and destination coincide). Two ranks: one pairwise exchange; else MPI_Ialltoallv when `fits`,
  // else a pairwise exchange of pieces of at most max_count() elements (step s: to rank+s, from rank-s).
  // `fits` must be the same on every rank (a function of the global layout: every count and displacement
  // of every rank <= max_count()), since the paths do not match each other. send and recv may overlap only
  // on the pairwise paths (MPI forbids aliased buffers), which allgather_inplace relies on.
  void exchange_v(bool fits, const float* send, const long* scounts, const long* sdispls, float* recv,
                  const long* rcounts, const long* rdispls);
  // Send ns and receive nr elements with `peer` on comm_p2p_, in pieces of at most max_count().
  void pair_exchange(const float* send, long ns, float* recv, long nr, int peer, int tag);
  // In-place all-gather with 64-bit counts: rank j's part is buf[displs[j] .. + counts[j]). Two ranks: one
  // pairwise exchange; else MPI_Iallgatherv when it fits max_count(), else the pairwise exchange.
  void allgather_inplace(float* buf, const long* counts, const long* displs);
  // Point-to-point on comm_ in pieces of at most max_count() elements (non-overtaking keeps them in order).
  void send_pieces(const float* buf, long n, int dest, int tag);
  void recv_pieces(float* buf, long n, int src, int tag);
  // The timeout's message.
  std::string describe(const WaitFor& w, double waited) const;
  std::string world_rank_of(int group_rank) const;

  // comm_: the collectives of the blocking calls and the caller's send/recv; comm_p2p_: point-to-point
  // inside collectives (tags 1-3 and the pairwise exchange's), so a caller's message can never match them.
  MPI_Comm comm_ = MPI_COMM_NULL, comm_p2p_ = MPI_COMM_NULL, comm_start_ = MPI_COMM_NULL,
           comm_gather_ = MPI_COMM_NULL;
  std::string name_;           // the group's name in messages ("the pp group", "MPI_COMM_WORLD"), or empty
  std::vector<int> world_;     // world rank of every group rank
  std::deque<NbSegment*> pending_;
  MPI_Op max_op_ = MPI_OP_NULL;
  ExchangePlan plan_;
  std::vector<float> scratch_, tree_tmp_;
  std::vector<std::vector<float>> pool_;
  std::vector<const float*> leaves_;
  std::vector<MPI_Request> abandoned_;  // of waits that timed out, and of requests destroyed by unwinding
  std::vector<std::vector<float>> orphans_;  // buffers those may still write into
  long guarded_calls_ = 0;              // enter_in_step's sequence number
  std::vector<MPI_Request> reqs_;       // the point-to-point helpers' (which never nest)
  std::vector<MPI_Status> statuses_;
};

}  // namespace parity::comm_detail
