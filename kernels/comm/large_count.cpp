// The data movement under the collectives, 64-bit-safe: MPI takes int counts and displacements, parity
// takes long. Every wait is MpiCommunicator::wait_all (timed).
#include <algorithm>
#include <cstring>

#include "kernels/comm/detail.hpp"
#include "kernels/error.hpp"

namespace parity::comm_detail {

namespace {
constexpr int kPairwiseTag = 0x7a11;  // on comm_p2p_, which carries no caller's messages

std::vector<int> to_int(const long* v, int p, int skip) {
  std::vector<int> out(p);
  for (int j = 0; j < p; ++j) out[j] = j == skip ? 0 : int(v[j]);
  return out;
}

// Posts receives (or sends) of n elements from (to) peer in pieces of at most max_count().
void post_pieces(bool is_recv, const float* buf, long n, int peer, int tag, MPI_Comm comm,
                 std::vector<MPI_Request>& reqs) {
  const long m = max_count();
  for (long off = 0; off < n; off += m) {
    const int c = int(std::min(m, n - off));
    reqs.emplace_back();
    if (is_recv)
      check(MPI_Irecv(const_cast<float*>(buf) + off, c, MPI_FLOAT, peer, tag, comm, &reqs.back()), "MPI_Irecv");
    else
      check(MPI_Isend(buf + off, c, MPI_FLOAT, peer, tag, comm, &reqs.back()), "MPI_Isend");
  }
}
}  // namespace

void MpiCommunicator::pair_exchange(const float* send, long ns, float* recv, long nr, int peer, int tag) {
  reqs_.clear();
  post_pieces(true, recv, nr, peer, tag, comm_p2p_, reqs_);
  post_pieces(false, send, ns, peer, tag, comm_p2p_, reqs_);
  wait_all(reqs_.data(), int(reqs_.size()), {"MPI_Irecv/MPI_Isend", peer});
}

void MpiCommunicator::exchange_v(bool fits, const float* send, const long* scounts, const long* sdispls,
                                 float* recv, const long* rcounts, const long* rdispls) {
  const int me = rank_, p = size_;
  // Own part: a local copy, never through MPI.
  if (scounts[me] != rcounts[me]) throw Error("exchange_v: self send and receive counts differ");
  if (scounts[me] > 0 && send + sdispls[me] != recv + rdispls[me])
    std::memmove(recv + rdispls[me], send + sdispls[me], sizeof(float) * scounts[me]);
  if (p == 1) return;
  if (p == 2) {
    const int o = 1 - me;
    return pair_exchange(send + sdispls[o], scounts[o], recv + rdispls[o], rcounts[o], o, 1);
  }
  if (fits) {
    const std::vector<int> sc = to_int(scounts, p, me), sd = to_int(sdispls, p, me), rc = to_int(rcounts, p, me),
                           rd = to_int(rdispls, p, me);
    MPI_Request req;
    check(MPI_Ialltoallv(send, sc.data(), sd.data(), MPI_FLOAT, recv, rc.data(), rd.data(), MPI_FLOAT, comm_, &req),
          "MPI_Ialltoallv");
    return wait_all(&req, 1, {"MPI_Ialltoallv"});
  }
  // Pairwise exchange in bounded pieces: step s sends to me + s and receives from me - s.
  std::vector<MPI_Request> reqs;
  for (int s = 1; s < p; ++s) {
    const int dst = (me + s) % p, src = (me - s + p) % p;
    reqs.clear();
    post_pieces(true, recv + rdispls[src], rcounts[src], src, kPairwiseTag, comm_p2p_, reqs);
    post_pieces(false, send + sdispls[dst], scounts[dst], dst, kPairwiseTag, comm_p2p_, reqs);
    wait_all(reqs.data(), int(reqs.size()), {"MPI_Irecv/MPI_Isend", src});
  }
}

void MpiCommunicator::allgather_inplace(float* buf, const long* counts, const long* displs) {
  const int me = rank_, p = size_;
  if (p == 1) return;
  if (p == 2) {
    const int o = 1 - me;
    return pair_exchange(buf + displs[me], counts[me], buf + displs[o], counts[o], o, 2);
  }
  bool fits = true;
  for (int j = 0; j < p && fits; ++j) fits = one_call(counts[j] + displs[j]);
  if (fits) {
    const std::vector<int> c = to_int(counts, p, -1), d = to_int(displs, p, -1);
    MPI_Request req;
    check(MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, c.data(), d.data(), MPI_FLOAT, comm_, &req),
          "MPI_Iallgatherv");
    return wait_all(&req, 1, {"MPI_Iallgatherv"});
  }
  // Every rank sends its own part to every other rank: an exchange whose send side is the same range.
  std::vector<long> sc(p, counts[me]), sd(p, displs[me]);
  exchange_v(false, buf, sc.data(), sd.data(), buf, counts, displs);
}

void MpiCommunicator::send_pieces(const float* buf, long n, int dest, int tag) {
  reqs_.clear();
  post_pieces(false, buf, n, dest, tag, comm_, reqs_);
  if (n == 0) {  // one empty message, so that it still matches the receiver's one
    reqs_.emplace_back();
    check(MPI_Isend(buf, 0, MPI_FLOAT, dest, tag, comm_, &reqs_.back()), "MPI_Isend");
  }
  wait_all(reqs_.data(), int(reqs_.size()), {"MPI_Isend", dest, tag});
}

void MpiCommunicator::recv_pieces(float* buf, long n, int src, int tag) {
  reqs_.clear();
  post_pieces(true, buf, n, src, tag, comm_, reqs_);
  if (n == 0) {
    reqs_.emplace_back();
    check(MPI_Irecv(buf, 0, MPI_FLOAT, src, tag, comm_, &reqs_.back()), "MPI_Irecv");
  }
  statuses_.resize(reqs_.size());
  wait_all(reqs_.data(), int(reqs_.size()), {"MPI_Irecv", src, tag}, statuses_.data());
  const long m = max_count();
  for (size_t k = 0; k < statuses_.size(); ++k) {
    int got = 0;
    MPI_Get_count(&statuses_[k], MPI_FLOAT, &got);
    if (got != std::min(m, n - long(k) * m))
      throw Error("recv: a message from " + world_rank_of(src) + " (tag " + std::to_string(tag) + ") has " +
                  std::to_string(got) + " elements where " + std::to_string(n) + " in all were expected");
  }
}

}  // namespace parity::comm_detail
