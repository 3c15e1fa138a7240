// MPI test of the process grid (reference/grid.hpp): world rank = (pp_rank * dp + dp_rank) * tp + tp_rank,
// TP innermost, then DP, then PP. Run under mpiexec (ctest: mpi.grid.np8, 8 ranks): for every (dp, tp, pp)
// whose product is the world size, every rank checks its coordinates against that formula, and each of its
// three groups (tp, dp, pp) has the degree as size, the coordinate as rank, and as members exactly the world
// ranks that share the other two coordinates, in coordinate order (each group's members are gathered over
// the group itself). A layout that does not fill the world is refused on every rank, naming the rank count.
#include <Kokkos_Core.hpp>
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdio>
#include <string>
#include <vector>

#include "kernels/error.hpp"
#include "reference/grid.hpp"

namespace {

using parity::Communicator;
using parity::ProcessGrid;

int world_size() {
  int n = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  return n;
}

int world_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

struct Layout {
  int dp, tp, pp;
};

// Every ordered (dp, tp, pp) with dp * tp * pp = n.
std::vector<Layout> layouts(int n) {
  std::vector<Layout> out;
  for (int dp = 1; dp <= n; ++dp)
    for (int tp = 1; tp <= n; ++tp)
      if (n % (dp * tp) == 0) out.push_back({dp, tp, n / (dp * tp)});
  return out;
}

int rank_of(const Layout& l, int pp_rank, int dp_rank, int tp_rank) {
  return (pp_rank * l.dp + dp_rank) * l.tp + tp_rank;
}

// The world ranks of the group's members in group-rank order (gathered over the group).
std::vector<int> members(Communicator& c) {
  const float mine = static_cast<float>(world_rank());  // exact: small integers
  std::vector<float> all(c.size());
  c.all_gather(&mine, all.data(), std::vector<long>(c.size(), 1));
  return std::vector<int>(all.begin(), all.end());
}

TEST(ProcessGrid, RankLayoutIsTpInnermostThenDpThenPp) {
  const int n = world_size(), me = world_rank();
  for (const Layout& l : layouts(n)) {
    SCOPED_TRACE("dp " + std::to_string(l.dp) + " tp " + std::to_string(l.tp) + " pp " + std::to_string(l.pp));
    ProcessGrid g(l.dp, l.tp, l.pp);
    EXPECT_EQ(g.dp, l.dp);
    EXPECT_EQ(g.tp, l.tp);
    EXPECT_EQ(g.pp, l.pp);
    EXPECT_EQ(g.world_size, n);
    EXPECT_EQ(g.world_rank, me);
    EXPECT_TRUE(0 <= g.tp_rank && g.tp_rank < l.tp) << g.tp_rank;
    EXPECT_TRUE(0 <= g.dp_rank && g.dp_rank < l.dp) << g.dp_rank;
    EXPECT_TRUE(0 <= g.pp_rank && g.pp_rank < l.pp) << g.pp_rank;
    EXPECT_EQ(rank_of(l, g.pp_rank, g.dp_rank, g.tp_rank), me)
        << "pp_rank " << g.pp_rank << " dp_rank " << g.dp_rank << " tp_rank " << g.tp_rank;

    EXPECT_EQ(g.world().size(), n);
    EXPECT_EQ(g.world().rank(), me);
    EXPECT_EQ(g.tp_group().size(), l.tp);
    EXPECT_EQ(g.tp_group().rank(), g.tp_rank);
    EXPECT_EQ(g.dp_group().size(), l.dp);
    EXPECT_EQ(g.dp_group().rank(), g.dp_rank);
    EXPECT_EQ(g.pp_group().size(), l.pp);
    EXPECT_EQ(g.pp_group().rank(), g.pp_rank);  // rank in the pipeline group = stage

    std::vector<int> want_tp, want_dp, want_pp;
    for (int t = 0; t < l.tp; ++t) want_tp.push_back(rank_of(l, g.pp_rank, g.dp_rank, t));
    for (int d = 0; d < l.dp; ++d) want_dp.push_back(rank_of(l, g.pp_rank, d, g.tp_rank));
    for (int p = 0; p < l.pp; ++p) want_pp.push_back(rank_of(l, p, g.dp_rank, g.tp_rank));
    EXPECT_EQ(members(g.tp_group()), want_tp) << "tensor-parallel group";
    EXPECT_EQ(members(g.dp_group()), want_dp) << "data-parallel group";
    EXPECT_EQ(members(g.pp_group()), want_pp) << "pipeline group";
    // The host twins are the data groups themselves without NCCL.
    EXPECT_EQ(members(g.tp_host()), want_tp);
    EXPECT_EQ(members(g.dp_host()), want_dp);
    EXPECT_EQ(members(g.pp_host()), want_pp);
    MPI_Barrier(MPI_COMM_WORLD);
  }
}

TEST(ProcessGrid, RefusesALayoutThatDoesNotFillTheWorld) {
  const int n = world_size();
  const std::string ranks = std::to_string(n);
  // Too many ranks asked for, and (n > 1) too few: refused on every rank before any group is made.
  for (const Layout& l : {Layout{n + 1, 1, 1}, Layout{1, 2 * n, 1}, Layout{1, 1, n > 1 ? n / 2 : 3}}) {
    try {
      ProcessGrid g(l.dp, l.tp, l.pp);
      ADD_FAILURE() << "accepted --dp " << l.dp << " --tp " << l.tp << " --pp " << l.pp << " on " << n << " ranks";
    } catch (const parity::Error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("needs " + std::to_string(l.dp * l.tp * l.pp) + " ranks"), std::string::npos) << what;
      EXPECT_NE(what.find(ranks), std::string::npos) << what;
    }
  }
  try {
    ProcessGrid g(0, 1, n);
    ADD_FAILURE() << "accepted --dp 0";
  } catch (const parity::Error& e) {
    EXPECT_NE(std::string(e.what()).find(">= 1"), std::string::npos) << e.what();
  }
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
