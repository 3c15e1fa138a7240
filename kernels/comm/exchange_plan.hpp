// The exchange plan of the exact collectives (the exact reduce-scatter, and through it the exact all-reduce
// and the non-blocking all-reduce, on MPI and on NCCL): which part of its buffer each rank sends to whom,
// where the contributions land, and which buffers are the leaves of the tree over ranks. One definition, so
// that every path adds the same values in the same order.
//
// The buffer of n elements is cut into p chunks, chunk j = [displs[j], displs[j] + counts[j]) (all-reduce:
// chunk_counts(n, p); reduce-scatter: the caller's counts), and rank j reduces chunk j. In the all-to-all
// this rank sends chunk j of its input to every rank j != rank, and receives the p - 1 other ranks' copies
// of its own chunk into a scratch buffer, packed in rank order without a gap for itself: rank j's lands in
// slot(j) = j - (j > rank), at slot(j) * mine. The leaves of the canonical tree over ranks are then, in rank
// order, that slot for j != rank and this rank's own chunk of the input for j == rank. The all-gather of the
// all-reduce moves chunk j from rank j to every rank (counts, displs).
#pragma once
#include <vector>

namespace parity::comm_detail {

struct ExchangePlan {
  int p = 1, rank = 0;
  std::vector<long> counts, displs;  // the chunks
  long n = 0, mine = 0, widest = 0;  // sum(counts), counts[rank], max(counts)
  // The all-to-all, per peer j (zero for j == rank, whose part never goes through MPI): send counts[j] from
  // displs[j] of the input; receive mine into the scratch at slot(j) * mine.
  std::vector<long> scounts, sdispls, rcounts, rdispls;

  ExchangePlan() = default;
  ExchangePlan(const std::vector<long>& chunk_counts, int rank) { build(chunk_counts, rank); }
  // Recomputes the plan for new chunks, reusing the vectors' storage.
  void build(const std::vector<long>& chunk_counts, int rank);

  int slot(int j) const { return j - (j > rank ? 1 : 0); }
  long scratch_size() const { return long(p - 1) * mine; }
  // The largest count or displacement in any rank's all-to-all: the whole buffer on the send side, the
  // p - 1 contributions to the widest chunk on the receive side. The same on every rank.
  long extent() const { return n > (p - 1) * widest ? n : (p - 1) * widest; }
  // leaves[j] = where rank j's contribution to this rank's chunk is: in + displs[rank] for j == rank,
  // scratch + slot(j) * mine otherwise.
  void leaves(const float* in, const float* scratch, std::vector<const float*>& out) const;
};

}  // namespace parity::comm_detail
