// MPI tests of the communication layer (kernels/comm). Run under mpiexec at several sizes: every rank runs
// every test, in the same order, and checks its own results; main() ANDs the verdicts over the ranks.
#include <Kokkos_Core.hpp>
#include <gtest/gtest.h>
#include <mpi.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "kernels/canonical.hpp"
#include "kernels/comm/communicator.hpp"
#include "kernels/comm/detail.hpp"
#include "kernels/error.hpp"

namespace {

using parity::Communicator;
using parity::Numerics;

int world_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}
int world_size() {
  int p = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &p);
  return p;
}

uint64_t mix(uint64_t x) {  // splitmix64 finaliser
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
uint64_t hash(long a, long b, long c = 0) { return mix(mix(mix(uint64_t(a)) ^ uint64_t(b)) ^ uint64_t(c)); }

// Small integers: every sum over ranks is exact in any order.
float small_int(int rank, long i, long salt = 0) { return float(long(hash(rank, i, salt) % 17) - 8); }

// Mixed magnitudes (1e8, 1, -1e8, 3.3 patterns): the sum depends on the order of the additions.
float mixed(int rank, long i, long salt = 0) {
  static const float mags[] = {1e8f, 1.0f, -1e8f, 3.3f};
  const uint64_t h = hash(rank, i, salt + 1000);
  return mags[(rank * 3 + i + long(h % 2)) % 4] * (1.0f + float(h % 1024) / 4096.0f);
}

template <class F>
std::vector<float> values(int rank, long n, F f, long salt = 0) {
  std::vector<float> v(n);
  for (long i = 0; i < n; ++i) v[i] = f(rank, i, salt);
  return v;
}

// The canonical sum over ranks of element i, computed in one process.
template <class F>
float tree_over_ranks(int p, long i, F f, long salt = 0) {
  return parity::tree_reduce(0, p, [&](long r) { return f(int(r), i, salt); });
}

uint32_t bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  return u;
}

// Compares bit patterns; reports the first few differences.
::testing::AssertionResult same_bits(const std::vector<float>& got, const std::vector<float>& want) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << "sizes " << got.size() << " vs " << want.size();
  int bad = 0;
  ::testing::AssertionResult res = ::testing::AssertionSuccess();
  for (size_t i = 0; i < got.size(); ++i)
    if (bits(got[i]) != bits(want[i])) {
      if (bad == 0) res = ::testing::AssertionFailure();
      if (bad < 5) {
        char line[128];
        std::snprintf(line, sizeof line, "[%zu] got %.9g (0x%08x) want %.9g (0x%08x) ", i, got[i], bits(got[i]),
                      want[i], bits(want[i]));
        res << line;
      }
      ++bad;
    }
  if (bad) res << "; " << bad << " of " << got.size() << " differ";
  return res;
}

std::vector<long> sizes_to_test(int p) {
  return {0, 1, std::max(1, p - 1), p, p + 1, 7, 1000, 4097, 100003};
}

class Comm : public ::testing::Test {
 protected:
  void SetUp() override {
    comm = parity::make_mpi_communicator(MPI_COMM_WORLD);
    p = comm->size();
    r = comm->rank();
  }
  std::unique_ptr<Communicator> comm;
  int p = 1, r = 0;
};

// Restores the production piece size whatever happens.
struct MaxCountGuard {
  explicit MaxCountGuard(long m) { parity::comm_detail::set_max_count(m); }
  ~MaxCountGuard() { parity::comm_detail::set_max_count(INT_MAX); }
};

TEST(ChunkCounts, NearEqualContiguous) {
  EXPECT_EQ(parity::chunk_counts(10, 4), (std::vector<long>{3, 3, 2, 2}));
  EXPECT_EQ(parity::chunk_counts(2, 3), (std::vector<long>{1, 1, 0}));
  EXPECT_EQ(parity::chunk_counts(0, 2), (std::vector<long>{0, 0}));
  EXPECT_EQ(parity::chunk_counts(8, 1), (std::vector<long>{8}));
}

TEST(ExchangePlan, SlotsAndLeavesInRankOrder) {
  // Rank 2 of 4, uneven chunks: it sends chunk j to rank j and receives its own chunk from the three others,
  // packed without a gap for itself; the leaves are in rank order with its own input chunk third.
  const parity::comm_detail::ExchangePlan plan({3, 0, 2, 5}, 2);
  EXPECT_EQ(plan.n, 10);
  EXPECT_EQ(plan.mine, 2);
  EXPECT_EQ(plan.displs, (std::vector<long>{0, 3, 3, 5}));
  EXPECT_EQ(plan.scounts, (std::vector<long>{3, 0, 0, 5}));
  EXPECT_EQ(plan.sdispls, (std::vector<long>{0, 3, 0, 5}));
  EXPECT_EQ(plan.rcounts, (std::vector<long>{2, 2, 0, 2}));
  EXPECT_EQ(plan.rdispls, (std::vector<long>{0, 2, 0, 4}));
  EXPECT_EQ(plan.scratch_size(), 6);
  EXPECT_EQ(plan.extent(), 15);  // 3 * the widest chunk
  float in[10], scratch[6];
  std::vector<const float*> leaves;
  plan.leaves(in, scratch, leaves);
  EXPECT_EQ(leaves, (std::vector<const float*>{scratch, scratch + 2, in + 3, scratch + 4}));
}

TEST(TreeSumLeaves, MatchesTreeReduce) {
  std::vector<float> tmp;
  for (int p : {1, 2, 3, 4, 5, 7, 8, 13, 16, 33}) {
    const long w = 5000;  // more than two tiles, not a multiple of the tile
    std::vector<std::vector<float>> leaf(p);
    std::vector<const float*> ptr(p);
    for (int j = 0; j < p; ++j) {
      leaf[j] = values(j, w, mixed);
      ptr[j] = leaf[j].data();
    }
    std::vector<float> out(w), want(w);
    for (long i = 0; i < w; ++i) want[i] = tree_over_ranks(p, i, mixed);
    parity::comm_detail::tree_sum_leaves(ptr.data(), p, w, out.data(), tmp);
    EXPECT_TRUE(same_bits(out, want)) << "p=" << p;
    // In place: the output aliases each leaf in turn.
    for (int j = 0; j < p; ++j) {
      std::vector<std::vector<float>> copy = leaf;
      for (int k = 0; k < p; ++k) ptr[k] = copy[k].data();
      parity::comm_detail::tree_sum_leaves(ptr.data(), p, w, copy[j].data(), tmp);
      EXPECT_TRUE(same_bits(copy[j], want)) << "p=" << p << " out aliases leaf " << j;
    }
  }
}

TEST(SelfCommunicator, CopiesAndNoOps) {
  auto c = parity::make_self_communicator();
  EXPECT_EQ(c->rank(), 0);
  EXPECT_EQ(c->size(), 1);
  std::vector<float> v = values(0, 100, mixed), orig = v;
  c->allreduce_sum(v.data(), 100, Numerics::exact);
  c->allreduce_sum(v.data(), 100, Numerics::fast);
  EXPECT_TRUE(same_bits(v, orig));
  std::vector<float> out(100);
  c->reduce_scatter_sum(v.data(), out.data(), {100}, Numerics::exact);
  EXPECT_TRUE(same_bits(out, orig));
  std::fill(out.begin(), out.end(), 0.f);
  c->all_gather(v.data(), out.data(), {100});
  EXPECT_TRUE(same_bits(out, orig));
  std::fill(out.begin(), out.end(), 0.f);
  c->all_to_all(v.data(), out.data(), 100);
  EXPECT_TRUE(same_bits(out, orig));
  c->broadcast(v.data(), 100, 0);
  EXPECT_THROW(c->broadcast(v.data(), 100, 1), parity::Error);
  EXPECT_THROW(c->send(v.data(), 1, 0, 0), parity::Error);
  EXPECT_THROW(c->recv(v.data(), 1, 0, 0), parity::Error);
  auto req = c->iallreduce_sum(v.data(), 100, Numerics::exact);
  EXPECT_TRUE(req->test());
  req->wait();
  EXPECT_TRUE(same_bits(v, orig));
  float m[3] = {-0.0f, std::numeric_limits<float>::signaling_NaN(), 2.0f};
  c->allreduce_max(m, 3);
  EXPECT_EQ(bits(m[0]), bits(-0.0f));
  EXPECT_EQ(bits(m[1]), bits(std::numeric_limits<float>::quiet_NaN()));
  EXPECT_EQ(m[2], 2.0f);
  c->barrier();
  const auto& s = c->stats().by_op;
  EXPECT_EQ(s.at("allreduce_sum.exact").calls, 1);
  EXPECT_EQ(s.at("allreduce_sum.exact").bytes, 400);
  EXPECT_EQ(s.at("allreduce_sum.fast").calls, 1);
  EXPECT_EQ(s.at("barrier").calls, 1);
}

TEST_F(Comm, RankAndSize) {
  EXPECT_EQ(p, world_size());
  EXPECT_EQ(r, world_rank());
}

TEST_F(Comm, AllreduceSumIntegersBothModes) {
  for (Numerics num : {Numerics::exact, Numerics::fast})
    for (long n : sizes_to_test(p)) {
      std::vector<float> v = values(r, n, small_int), want(n);
      for (long i = 0; i < n; ++i) {
        float s = 0;
        for (int q = 0; q < p; ++q) s += small_int(q, i);
        want[i] = s;
      }
      comm->allreduce_sum(v.data(), n, num);
      EXPECT_TRUE(same_bits(v, want)) << "n=" << n << " exact=" << (num == Numerics::exact);
    }
}

TEST_F(Comm, ExactAllreduceEqualsTreeOverRanks) {
  for (long n : sizes_to_test(p)) {
    std::vector<float> v = values(r, n, mixed, n), want(n);
    for (long i = 0; i < n; ++i) want[i] = tree_over_ranks(p, i, mixed, n);
    comm->allreduce_sum(v.data(), n, Numerics::exact);
    EXPECT_TRUE(same_bits(v, want)) << "n=" << n;
  }
  // The check has teeth: from four ranks on the tree differs from the left-to-right sum somewhere (with three
  // it is (r0 + r1) + r2, the same thing).
  if (p >= 4) {
    long differ = 0;
    for (long i = 0; i < 4097; ++i) {
      float seq = 0;
      for (int q = 0; q < p; ++q) seq += mixed(q, i, 4097);
      differ += bits(seq) != bits(tree_over_ranks(p, i, mixed, 4097));
    }
    EXPECT_GT(differ, 0);
  }
}

// Small messages take the gather path (whole buffers, tree on every rank), larger ones the chunked path:
// both give the tree's bits, at the rule's boundaries and when either path is forced.
TEST_F(Comm, ExactAllreduceGatherAndChunkPathsAgree) {
  namespace cd = parity::comm_detail;
  const std::vector<long> ns = {1, 511, 512, 513, 1024, 2047, 2048, 2049, 32768 / p, 32768 / p + 1, 40000};
  bool saw_gather = false, saw_chunks = false;
  for (long n : ns) {
    (cd::allreduce_gathers(n, p) ? saw_gather : saw_chunks) = true;
    std::vector<float> want(n);
    for (long i = 0; i < n; ++i) want[i] = tree_over_ranks(p, i, mixed, 60 + n);
    for (long gather_bytes : {cd::kAllreduceGatherBytes, 0L, long(1) << 40}) {
      cd::set_allreduce_gather_bytes(gather_bytes);
      std::vector<float> v = values(r, n, mixed, 60 + n);
      comm->allreduce_sum(v.data(), n, Numerics::exact);
      EXPECT_TRUE(same_bits(v, want)) << "n=" << n << " gather_bytes=" << gather_bytes;
    }
    cd::set_allreduce_gather_bytes(cd::kAllreduceGatherBytes);
  }
  if (p > 1) {
    EXPECT_TRUE(saw_gather);
    EXPECT_TRUE(saw_chunks);
  }
}

TEST_F(Comm, ExactAllreduceLongerThanOneSegment) {
  const long n = parity::comm_detail::kAllreduceSegment + 1001;
  std::vector<float> v = values(r, n, mixed, 7), want(n);
  for (long i = 0; i < n; ++i) want[i] = tree_over_ranks(p, i, mixed, 7);
  comm->allreduce_sum(v.data(), n, Numerics::exact);
  EXPECT_TRUE(same_bits(v, want));
}

TEST_F(Comm, ExactAllreduceIndependentOfArrivalOrder) {
  const long n = 30011;
  std::vector<float> want(n);
  for (long i = 0; i < n; ++i) want[i] = tree_over_ranks(p, i, mixed, 3);
  for (int rep = 0; rep < 6; ++rep) {
    std::vector<float> v = values(r, n, mixed, 3);
    // Rank- and repetition-dependent delays before entering, so that messages arrive in different orders.
    std::this_thread::sleep_for(std::chrono::milliseconds(hash(r, rep, 99) % 25));
    comm->allreduce_sum(v.data(), n, Numerics::exact);
    EXPECT_TRUE(same_bits(v, want)) << "repetition " << rep;
    // Same bits as rank 0's result.
    std::vector<float> root = v;
    comm->broadcast(root.data(), n, 0);
    EXPECT_TRUE(same_bits(v, root)) << "repetition " << rep;
  }
}

TEST_F(Comm, IallreduceEqualsAllreduce) {
  const std::vector<long> ns = {1000, 0, 4097, 1, 100003};
  for (Numerics num : {Numerics::exact, Numerics::fast}) {
    std::vector<std::vector<float>> bufs, want;
    for (size_t k = 0; k < ns.size(); ++k) {
      // fast mode promises no order (MPI_Iallreduce and MPI_Allreduce may differ): exact-sum inputs there.
      bufs.push_back(num == Numerics::exact ? values(r, ns[k], mixed, 10 + k) : values(r, ns[k], small_int, 10 + k));
      want.push_back(bufs.back());
      comm->allreduce_sum(want.back().data(), ns[k], num);
    }
    for (int rep = 0; rep < 3; ++rep) {
      std::vector<std::vector<float>> b = bufs;
      std::vector<std::unique_ptr<Communicator::Request>> reqs;
      for (size_t k = 0; k < ns.size(); ++k) {
        reqs.push_back(comm->iallreduce_sum(b[k].data(), ns[k], num));
        std::this_thread::sleep_for(std::chrono::microseconds(hash(r, rep, k) % 3000));
        if (rep == 1) reqs.front()->test();  // progress at rank-dependent points
      }
      // A blocking collective while requests are in flight.
      std::vector<float> mid = values(r, 333, small_int);
      comm->allreduce_sum(mid.data(), 333, Numerics::exact);
      if (rep == 0) {
        for (size_t k = ns.size(); k-- > 0;) reqs[k]->wait();  // newest first
      } else if (rep == 1) {
        for (bool all = false; !all;) {
          all = true;
          for (size_t k = ns.size(); k-- > 0;) all = reqs[k]->test() && all;
        }
      } else {
        reqs.clear();  // destructors wait
      }
      for (size_t k = 0; k < ns.size(); ++k)
        EXPECT_TRUE(same_bits(b[k], want[k]))
            << "n=" << ns[k] << " rep=" << rep << " exact=" << (num == Numerics::exact);
    }
  }
}

TEST_F(Comm, AllreduceMax) {
  for (long n : sizes_to_test(p)) {
    std::vector<float> v = values(r, n, mixed), want(n);
    for (long i = 0; i < n; ++i) {
      want[i] = mixed(0, i);
      for (int q = 1; q < p; ++q) want[i] = std::max(want[i], mixed(q, i));
    }
    comm->allreduce_max(v.data(), n);
    EXPECT_TRUE(same_bits(v, want)) << "n=" << n;
  }
  // Signed zeros and NaN give the same bits on every rank, whatever the order.
  float z[4] = {r % 2 ? 0.0f : -0.0f, -0.0f, r == p - 1 ? std::numeric_limits<float>::quiet_NaN() : 1.0f,
                r == 0 ? -std::numeric_limits<float>::quiet_NaN() : 1.0f};
  comm->allreduce_max(z, 4);
  EXPECT_EQ(bits(z[0]), bits(p > 1 ? 0.0f : -0.0f));
  EXPECT_EQ(bits(z[1]), bits(-0.0f));
  EXPECT_EQ(bits(z[2]), bits(std::numeric_limits<float>::quiet_NaN()));
  EXPECT_EQ(bits(z[3]), bits(std::numeric_limits<float>::quiet_NaN()));
}

TEST_F(Comm, AllreduceDouble) {
  std::vector<double> v(1001);
  for (long i = 0; i < 1001; ++i) v[i] = double(r + 1) * i;
  comm->allreduce_sum(v.data(), 1001);
  for (long i = 0; i < 1001; ++i) ASSERT_EQ(v[i], double(p) * (p + 1) / 2 * i);
}

TEST_F(Comm, ReduceScatterIntegersAndCounts) {
  std::vector<std::vector<long>> layouts;
  for (long n : sizes_to_test(p)) layouts.push_back(parity::chunk_counts(n, p));
  std::vector<long> uneven(p), all_to_0(p, 0);
  for (int q = 0; q < p; ++q) uneven[q] = (q * 3) % 5;  // zeros included
  all_to_0[0] = 77;
  layouts.push_back(uneven);
  layouts.push_back(all_to_0);
  for (Numerics num : {Numerics::exact, Numerics::fast})
    for (const auto& counts : layouts) {
      const long n = std::accumulate(counts.begin(), counts.end(), 0L);
      const long off = std::accumulate(counts.begin(), counts.begin() + r, 0L);
      std::vector<float> in = values(r, n, small_int, 5), out(counts[r], -1.0f), want(counts[r]);
      for (long i = 0; i < counts[r]; ++i) {
        float s = 0;
        for (int q = 0; q < p; ++q) s += small_int(q, off + i, 5);
        want[i] = s;
      }
      comm->reduce_scatter_sum(in.data(), out.data(), counts, num);
      EXPECT_TRUE(same_bits(out, want)) << "n=" << n << " exact=" << (num == Numerics::exact);
    }
}

TEST_F(Comm, ReduceScatterThenAllGatherEqualsAllreduce) {
  for (long n : sizes_to_test(p)) {
    const std::vector<long> counts = parity::chunk_counts(n, p);
    const long off = std::accumulate(counts.begin(), counts.begin() + r, 0L);
    std::vector<float> in = values(r, n, mixed, 11), all = in, part(counts[r]), gathered(n);
    comm->allreduce_sum(all.data(), n, Numerics::exact);
    comm->reduce_scatter_sum(in.data(), part.data(), counts, Numerics::exact);
    std::vector<float> want_part(all.begin() + off, all.begin() + off + counts[r]);
    EXPECT_TRUE(same_bits(part, want_part)) << "n=" << n;
    comm->all_gather(part.data(), gathered.data(), counts);
    EXPECT_TRUE(same_bits(gathered, all)) << "n=" << n;
  }
}

TEST_F(Comm, AllGatherUnevenAndInPlace) {
  std::vector<long> counts(p);
  for (int q = 0; q < p; ++q) counts[q] = (q * 7) % 4;  // rank 0 contributes nothing
  const long n = std::accumulate(counts.begin(), counts.end(), 0L);
  const long off = std::accumulate(counts.begin(), counts.begin() + r, 0L);
  std::vector<float> want;
  for (int q = 0; q < p; ++q)
    for (long i = 0; i < counts[q]; ++i) want.push_back(small_int(q, i, 8));
  std::vector<float> mine = values(r, counts[r], small_int, 8), out(n, -9.0f);
  comm->all_gather(mine.data(), out.data(), counts);
  EXPECT_TRUE(same_bits(out, want));
  std::vector<float> inplace(n, -9.0f);
  std::copy(mine.begin(), mine.end(), inplace.begin() + off);
  comm->all_gather(inplace.data() + off, inplace.data(), counts);
  EXPECT_TRUE(same_bits(inplace, want));
}

TEST_F(Comm, AllToAll) {
  for (long chunk : {0L, 1L, 5L, 1000L}) {
    std::vector<float> in(chunk * p), out(chunk * p, -9.0f), want(chunk * p);
    // chunk j of rank q holds the values q -> j.
    for (int j = 0; j < p; ++j)
      for (long i = 0; i < chunk; ++i) in[j * chunk + i] = float(hash(r, j, i) % 1000);
    for (int q = 0; q < p; ++q)
      for (long i = 0; i < chunk; ++i) want[q * chunk + i] = float(hash(q, r, i) % 1000);
    comm->all_to_all(in.data(), out.data(), chunk);
    EXPECT_TRUE(same_bits(out, want)) << "chunk=" << chunk;
  }
}

TEST_F(Comm, BroadcastFromEveryRoot) {
  for (int root = 0; root < p; ++root)
    for (long n : {0L, 3L, 10007L}) {
      std::vector<float> v = r == root ? values(root, n, mixed) : std::vector<float>(n, 0.0f);
      comm->broadcast(v.data(), n, root);
      EXPECT_TRUE(same_bits(v, values(root, n, mixed))) << "root=" << root << " n=" << n;
    }
}

TEST_F(Comm, SendRecvRing) {
  if (p < 2) GTEST_SKIP() << "needs two ranks";
  for (long n : {0L, 1L, 1000L, 300000L}) {
    const int next = (r + 1) % p, prev = (r + p - 1) % p;
    std::vector<float> out = values(r, n, mixed, 21), in(n, 0.0f);
    if (r % 2 == 0) {  // even ranks send first: no deadlock for messages beyond the eager limit
      comm->send(out.data(), n, next, 42);
      comm->recv(in.data(), n, prev, 42);
    } else {
      comm->recv(in.data(), n, prev, 42);
      comm->send(out.data(), n, next, 42);
    }
    EXPECT_TRUE(same_bits(in, values(prev, n, mixed, 21))) << "n=" << n;
  }
}

TEST_F(Comm, StatsCountCallsAndBytes) {
  comm->stats().reset();
  std::vector<float> v(1000, 1.0f), out(1000 * p);
  comm->allreduce_sum(v.data(), 1000, Numerics::exact);
  comm->allreduce_sum(v.data(), 500, Numerics::exact);
  comm->allreduce_sum(v.data(), 1000, Numerics::fast);
  comm->all_gather(v.data(), out.data(), std::vector<long>(p, 10));
  comm->all_to_all(out.data(), out.data() + 0, 0);
  comm->broadcast(v.data(), 250, 0);
  comm->iallreduce_sum(v.data(), 100, Numerics::exact)->wait();
  comm->barrier();
  const auto& s = comm->stats().by_op;
  EXPECT_EQ(s.at("allreduce_sum.exact").calls, 2);
  EXPECT_EQ(s.at("allreduce_sum.exact").bytes, 6000);
  EXPECT_EQ(s.at("allreduce_sum.fast").calls, 1);
  EXPECT_EQ(s.at("allreduce_sum.fast").bytes, 4000);
  EXPECT_EQ(s.at("all_gather").bytes, 40.0 * p);
  EXPECT_EQ(s.at("all_to_all").calls, 1);
  EXPECT_EQ(s.at("broadcast").bytes, 1000);
  EXPECT_EQ(s.at("iallreduce_sum.exact").calls, 1);
  EXPECT_EQ(s.at("iallreduce_sum.exact").bytes, 400);
  EXPECT_EQ(s.at("barrier").calls, 1);
  EXPECT_EQ(comm->stats().total_bytes(), 6000 + 4000 + 40.0 * p + 0 + 1000 + 400);
  EXPECT_GE(comm->stats().total_seconds(), 0.0);
  EXPECT_GT(s.at("allreduce_sum.exact").seconds, 0.0);
  comm->stats().reset();
  EXPECT_TRUE(comm->stats().by_op.empty());
}

// Every collective again with MPI messages limited to 7 elements: the 64-bit (split, pairwise) paths.
TEST_F(Comm, LargeCountPathsWithTinyPieces) {
  MaxCountGuard guard(7);
  const long n = 1001;
  for (Numerics num : {Numerics::exact, Numerics::fast}) {
    std::vector<float> v = values(r, n, mixed, 31), want(n);
    for (long i = 0; i < n; ++i) want[i] = tree_over_ranks(p, i, mixed, 31);
    comm->allreduce_sum(v.data(), n, num);
    if (num == Numerics::exact) EXPECT_TRUE(same_bits(v, want));
    std::vector<float> iv = values(r, n, small_int, 32), w2(n), ref = iv;
    comm->allreduce_sum(ref.data(), n, Numerics::exact);
    comm->iallreduce_sum(iv.data(), n, num)->wait();
    EXPECT_TRUE(same_bits(iv, ref)) << "iallreduce exact=" << (num == Numerics::exact);
    // Reduce-scatter and all-gather with chunks beyond the piece size.
    const std::vector<long> counts = parity::chunk_counts(n, p);
    const long off = std::accumulate(counts.begin(), counts.begin() + r, 0L);
    std::vector<float> in = values(r, n, mixed, 33), part(counts[r]), full(n), all = in;
    comm->allreduce_sum(all.data(), n, Numerics::exact);
    comm->reduce_scatter_sum(in.data(), part.data(), counts, num);
    if (num == Numerics::exact)
      EXPECT_TRUE(same_bits(part, std::vector<float>(all.begin() + off, all.begin() + off + counts[r])));
    comm->all_gather(part.data(), full.data(), counts);
    if (num == Numerics::exact) EXPECT_TRUE(same_bits(full, all));
  }
  std::vector<float> a2a_in(50 * p), a2a_out(50 * p), a2a_want(50 * p);
  for (int j = 0; j < p; ++j)
    for (long i = 0; i < 50; ++i) {
      a2a_in[j * 50 + i] = float(hash(r, j, i) % 1000);
      a2a_want[j * 50 + i] = float(hash(j, r, i) % 1000);
    }
  comm->all_to_all(a2a_in.data(), a2a_out.data(), 50);
  EXPECT_TRUE(same_bits(a2a_out, a2a_want));
  std::vector<float> b = r == 0 ? values(0, 100, mixed) : std::vector<float>(100);
  comm->broadcast(b.data(), 100, 0);
  EXPECT_TRUE(same_bits(b, values(0, 100, mixed)));
  if (p >= 2) {
    std::vector<float> msg = values(r, 100, mixed, 40), got(100);
    if (r == 0) comm->send(msg.data(), 100, 1, 5);
    if (r == 1) {
      comm->recv(got.data(), 100, 0, 5);
      EXPECT_TRUE(same_bits(got, values(0, 100, mixed, 40)));
    }
  }
  std::vector<double> d(20, 1.0);
  comm->allreduce_sum(d.data(), 20);
  for (double x : d) EXPECT_EQ(x, double(p));
}

TEST_F(Comm, SubCommunicators) {
  // Split the world into two halves (as a DP x TP grid would) and reduce within each.
  MPI_Comm half;
  MPI_Comm_split(MPI_COMM_WORLD, r % 2, r, &half);
  auto c = parity::make_mpi_communicator(half);
  MPI_Comm_free(&half);  // the communicator keeps its own duplicate
  const int hp = c->size(), hr = c->rank();
  EXPECT_EQ(hr, r / 2);
  const long n = 513;
  std::vector<float> v = values(r, n, mixed, 50), want(n);
  for (long i = 0; i < n; ++i)
    want[i] = parity::tree_reduce(0, hp, [&](long q) { return mixed(int(2 * q + r % 2), i, 50); });
  c->allreduce_sum(v.data(), n, Numerics::exact);
  EXPECT_TRUE(same_bits(v, want));
}

// Bad arguments are refused on the calling rank before any communication (so one rank alone may try them).
TEST_F(Comm, BadArgumentsThrowBeforeCommunicating) {
  std::vector<float> v(4 * p + 4, 1.0f), out(4 * p + 4);
  const auto refuses = [](auto f, const char* says) {
    try {
      f();
    } catch (const parity::Error& e) {
      return std::string(e.what()).find(says) != std::string::npos
                 ? ::testing::AssertionSuccess()
                 : ::testing::AssertionFailure() << "message: " << e.what() << " (expected: " << says << ")";
    }
    return ::testing::AssertionFailure() << "no parity::Error (expected: " << says << ")";
  };
  std::vector<long> wrong_size(p + 1, 1), negative(p, 1);
  negative[p - 1] = -2;
  EXPECT_TRUE(refuses([&] { comm->allreduce_sum(v.data(), -1, Numerics::exact); }, "allreduce_sum.exact: negative count -1"));
  EXPECT_TRUE(refuses([&] { comm->allreduce_max(nullptr, 3); }, "allreduce_max: null buffer"));
  EXPECT_TRUE(refuses([&] { comm->iallreduce_sum(v.data(), -5, Numerics::fast); }, "iallreduce_sum.fast: negative count"));
  EXPECT_TRUE(refuses([&] { comm->reduce_scatter_sum(v.data(), out.data(), wrong_size, Numerics::exact); },
                      "reduce_scatter_sum.exact: counts has"));
  EXPECT_TRUE(refuses([&] { comm->reduce_scatter_sum(v.data(), out.data(), negative, Numerics::fast); },
                      "negative count -2 for rank"));
  EXPECT_TRUE(refuses([&] { comm->reduce_scatter_sum(v.data(), v.data() + 1, std::vector<long>(p, 2), Numerics::exact); },
                      "overlap"));
  EXPECT_TRUE(refuses([&] { comm->all_gather(v.data(), out.data(), wrong_size); }, "all_gather: counts has"));
  EXPECT_TRUE(refuses([&] { comm->all_gather(out.data() + 1, out.data(), std::vector<long>(p, 2)); }, "overlap"));
  EXPECT_TRUE(refuses([&] { comm->all_to_all(v.data(), v.data(), 1); }, "all_to_all: the input and output"));
  EXPECT_TRUE(refuses([&] { comm->all_to_all(v.data(), out.data(), -1); }, "all_to_all: negative chunk"));
  EXPECT_TRUE(refuses([&] { comm->broadcast(v.data(), 1, p); }, "broadcast: root"));
  EXPECT_TRUE(refuses([&] { comm->send(v.data(), 1, p, 0); }, "send: destination"));
  EXPECT_TRUE(refuses([&] { comm->send(v.data(), 1, r, 0); }, "is this rank"));
  EXPECT_TRUE(refuses([&] { comm->recv(v.data(), 1, -1, 0); }, "recv: source -1"));
  EXPECT_TRUE(refuses([&] { comm->recv(v.data(), -3, (r + 1) % p, 0); }, "recv: negative count"));
  if (p > 1) EXPECT_TRUE(refuses([&] { comm->isend(v.data(), 1, (r + 1) % p, -4); }, "isend: tag -4"));
  EXPECT_TRUE(refuses([] { parity::set_comm_timeout(-1); }, "timeout"));
  EXPECT_TRUE(comm->stats().by_op.empty());  // refused calls are not counted
  // And the communicator still works.
  std::vector<float> w = values(r, 9, small_int);
  comm->allreduce_sum(w.data(), 9, Numerics::exact);
  EXPECT_EQ(comm->stats().by_op.at("allreduce_sum.exact").calls, 1);
}

// Sets the process-wide communication timeout for one test.
struct TimeoutGuard {
  explicit TimeoutGuard(double s) : old(parity::comm_timeout()) { parity::set_comm_timeout(s); }
  ~TimeoutGuard() { parity::set_comm_timeout(old); }
  double old;
};

// Runs f, which must throw parity::Error once the timeout has passed; returns its message ("" if none) and
// checks the time it took.
template <class F>
std::string times_out(F f, double limit) {
  const double t0 = MPI_Wtime();
  std::string what;
  try {
    f();
  } catch (const parity::Error& e) {
    what = e.what();
  }
  const double took = MPI_Wtime() - t0;
  EXPECT_GE(took, 0.95 * limit);
  EXPECT_LE(took, 2 * limit + 0.5);
  return what;
}

// A receive whose sender skips its send ends in a parity::Error naming both ranks and the tag. The sender
// sends late, after the receiver has given up, which completes the abandoned receive; then everyone goes on.
TEST(CommTimeout, RecvFromARankThatSkipsItsSend) {
  const int p = world_size(), r = world_rank();
  if (p < 2) GTEST_SKIP() << "needs two ranks";
  TimeoutGuard guard(2.0);
  std::vector<float> got(100, 0.0f);  // outlives comm: the abandoned receive writes into it
  auto comm = parity::make_mpi_communicator(MPI_COMM_WORLD, "test");
  if (r == 0) {
    const std::string what = times_out([&] { comm->recv(got.data(), 100, 1, 7); }, 2.0);
    const std::string want = "world rank 0 (rank 0 of " + std::to_string(p) +
                             " in the test group) waited 2 s in recv (MPI_Irecv) on world rank 1 (tag 7): a rank is "
                             "not progressing or fell out of step";
    EXPECT_EQ(what, want);
    EXPECT_THROW(comm->barrier(), parity::Error);  // refused: its messages may be out of step now
  }
  MPI_Barrier(MPI_COMM_WORLD);  // rank 1 sends only once rank 0 has given up
  if (r == 1) {
    const std::vector<float> msg = values(1, 100, mixed, 70);
    comm->send(msg.data(), 100, 0, 7);
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

// A collective one rank skips ends in a parity::Error on the others. The skipping rank runs it late, which
// completes the others' abandoned exchange (small: the gathered form, one exchange) and gives it the sum.
TEST(CommTimeout, CollectiveThatOneRankSkips) {
  const int p = world_size(), r = world_rank();
  if (p < 2) GTEST_SKIP() << "needs two ranks";
  TimeoutGuard guard(2.0);
  const long n = 100;
  ASSERT_TRUE(parity::comm_detail::allreduce_gathers(n, p));
  std::vector<float> v = values(r, n, small_int, 71);
  auto comm = parity::make_mpi_communicator(MPI_COMM_WORLD);
  if (r != 1) {
    const std::string what = times_out([&] { comm->allreduce_sum(v.data(), n, Numerics::exact); }, 2.0);
    const std::string who = "world rank " + std::to_string(r) + " (rank " + std::to_string(r) + " of " +
                            std::to_string(p) + " in MPI_COMM_WORLD) waited 2 s in allreduce_sum.exact (";
    EXPECT_EQ(what.rfind(who, 0), 0u) << what;
    EXPECT_NE(what.find(p == 2 ? "on world rank 1: " : "on the group's other ranks (world ranks"), std::string::npos)
        << what;
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (r == 1) {
    comm->allreduce_sum(v.data(), n, Numerics::exact);
    std::vector<float> want(n);
    for (long i = 0; i < n; ++i) want[i] = tree_over_ranks(p, i, small_int, 71);
    EXPECT_TRUE(same_bits(v, want));
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

// The fast all-reduce runs MPI's blocking MPI_Allreduce after a timed check that all ranks are at the same
// call with the same count: a rank at another count is refused on every rank, before the blocking call.
TEST(CommTimeout, FastCollectiveWithMismatchedCounts) {
  const int p = world_size(), r = world_rank();
  if (p < 2) GTEST_SKIP() << "needs two ranks";
  TimeoutGuard guard(2.0);
  auto comm = parity::make_mpi_communicator(MPI_COMM_WORLD);
  std::vector<float> v(1001, 1.0f);
  comm->allreduce_sum(v.data(), 1000, Numerics::fast);  // in step
  EXPECT_EQ(v[0], float(p));
  const long n = r == 1 ? 1001 : 1000;
  std::string what;
  try {
    comm->allreduce_sum(v.data(), n, Numerics::fast);
  } catch (const parity::Error& e) {
    what = e.what();
  }
  const std::string want = "world rank " + std::to_string(r) + " is at call 1 of " + std::to_string(n) +
                           " elements of allreduce_sum.fast, but the group's ranks are at calls 1..1 of 1000..1001 "
                           "elements: the ranks fell out of step";
  EXPECT_EQ(what, want);
  MPI_Barrier(MPI_COMM_WORLD);
}

// Prints failures of ranks other than 0, prefixed by the rank (rank 0 keeps the usual output).
class RankFailurePrinter : public ::testing::EmptyTestEventListener {
 public:
  explicit RankFailurePrinter(int rank) : rank_(rank) {}
  void OnTestPartResult(const ::testing::TestPartResult& r) override {
    if (r.failed())
      std::fprintf(stderr, "[rank %d] %s:%d: %s\n", rank_, r.file_name() ? r.file_name() : "?", r.line_number(),
                   r.summary());
  }
  void OnTestEnd(const ::testing::TestInfo& t) override {
    if (t.result()->Failed()) std::fprintf(stderr, "[rank %d] FAILED %s.%s\n", rank_, t.test_suite_name(), t.name());
  }

 private:
  int rank_;
};

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  Kokkos::initialize(argc, argv);
  const int rank = world_rank();
  if (rank != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new RankFailurePrinter(rank));
  }
  int failed = RUN_ALL_TESTS() != 0 ? 1 : 0, any = 0;
  MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (rank == 0 && any && !failed) std::fprintf(stderr, "FAILED on another rank (see [rank N] lines)\n");
  Kokkos::finalize();
  MPI_Finalize();
  return any;
}
