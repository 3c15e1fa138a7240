// 64-bit-safe data movement: MPI takes int counts and displacements, parity takes long.
#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "kernels/comm/detail.hpp"

namespace parity::comm_detail {

void exchange_v(MPI_Comm comm, MPI_Comm p2p, bool fits, const float* send, const long* scounts,
                const long* sdispls, float* recv, const long* rcounts, const long* rdispls) {
  int me = 0, p = 1;
  MPI_Comm_rank(comm, &me);
  MPI_Comm_size(comm, &p);
  const long m = max_count();
  // Own part: a local copy, never through MPI.
  if (scounts[me] != rcounts[me]) throw std::runtime_error("exchange_v: self send and receive counts differ");
  if (scounts[me] > 0 && send + sdispls[me] != recv + rdispls[me])
    std::memmove(recv + rdispls[me], send + sdispls[me], sizeof(float) * scounts[me]);
  if (p == 1) return;
  if (fits) {
    std::vector<int> sc(p), sd(p), rc(p), rd(p);
    for (int j = 0; j < p; ++j) {
      const bool self = j == me;
      sc[j] = self ? 0 : int(scounts[j]);
      sd[j] = self ? 0 : int(sdispls[j]);
      rc[j] = self ? 0 : int(rcounts[j]);
      rd[j] = self ? 0 : int(rdispls[j]);
    }
    check(MPI_Alltoallv(send, sc.data(), sd.data(), MPI_FLOAT, recv, rc.data(), rd.data(), MPI_FLOAT, comm),
          "MPI_Alltoallv");
    return;
  }
  // Pairwise exchange in bounded pieces: step s sends to me + s and receives from me - s.
  constexpr int kTag = 0x7a11;
  std::vector<MPI_Request> reqs;
  for (int s = 1; s < p; ++s) {
    const int dst = (me + s) % p, src = (me - s + p) % p;
    reqs.clear();
    for (long off = 0; off < rcounts[src]; off += m) {
      const int c = int(std::min(m, rcounts[src] - off));
      reqs.emplace_back();
      check(MPI_Irecv(recv + rdispls[src] + off, c, MPI_FLOAT, src, kTag, p2p, &reqs.back()), "MPI_Irecv");
    }
    for (long off = 0; off < scounts[dst]; off += m) {
      const int c = int(std::min(m, scounts[dst] - off));
      reqs.emplace_back();
      check(MPI_Isend(send + sdispls[dst] + off, c, MPI_FLOAT, dst, kTag, p2p, &reqs.back()), "MPI_Isend");
    }
    check(MPI_Waitall(int(reqs.size()), reqs.data(), MPI_STATUSES_IGNORE), "MPI_Waitall");
  }
}

void allgather_inplace(MPI_Comm comm, MPI_Comm p2p, float* buf, const long* counts, const long* displs) {
  int me = 0, p = 1;
  MPI_Comm_rank(comm, &me);
  MPI_Comm_size(comm, &p);
  if (p == 1) return;
  const long m = max_count();
  bool fits = true;
  for (int j = 0; j < p && fits; ++j) fits = counts[j] + displs[j] <= m;
  if (fits) {
    std::vector<int> c(p), d(p);
    for (int j = 0; j < p; ++j) {
      c[j] = int(counts[j]);
      d[j] = int(displs[j]);
    }
    check(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, c.data(), d.data(), MPI_FLOAT, comm),
          "MPI_Allgatherv");
    return;
  }
  // Every rank sends its own part to every other rank: an exchange whose send side is the same range.
  std::vector<long> sc(p, counts[me]), sd(p, displs[me]);
  exchange_v(comm, p2p, false, buf, sc.data(), sd.data(), buf, counts, displs);
}

void send_pieces(MPI_Comm comm, const void* buf, long n, MPI_Datatype type, int elem_bytes, int dest, int tag) {
  const long m = max_count();
  const char* p = static_cast<const char*>(buf);
  long off = 0;
  do {  // at least one message, so that n == 0 still matches the receiver's one
    const int c = int(std::min(m, n - off));
    check(MPI_Send(p + off * elem_bytes, c, type, dest, tag, comm), "MPI_Send");
    off += c;
  } while (off < n);
}

void recv_pieces(MPI_Comm comm, void* buf, long n, MPI_Datatype type, int elem_bytes, int src, int tag) {
  const long m = max_count();
  char* p = static_cast<char*>(buf);
  long off = 0;
  do {
    const int c = int(std::min(m, n - off));
    MPI_Status st;
    check(MPI_Recv(p + off * elem_bytes, c, type, src, tag, comm, &st), "MPI_Recv");
    int got = 0;
    MPI_Get_count(&st, type, &got);
    if (got != c) throw std::runtime_error("recv: message length differs from the expected count");
    off += c;
  } while (off < n);
}

}  // namespace parity::comm_detail
