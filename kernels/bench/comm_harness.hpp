// The shared harness of bench_comm (nccl-tests style): one small file per collective
// (bench_comm_<collective>.cpp) describes how to run the project's Communicator operation and the raw MPI
// call on the same buffers; this header and bench_comm.cpp do the rest — sizes, timing, bandwidth counters,
// registration, the reporter and the summary tables.
//
// Sizes. 64 KiB .. 16 MiB by 4x (change with --min_bytes=B --max_bytes=B). The size of a collective is the
// nccl-tests one: the buffer for all-reduce, broadcast and send/recv; the whole gathered output for
// all-gather; the whole input for reduce-scatter and all-to-all (each rank's part is size / p).
//
// Bandwidths (GB/s = 1e9 B/s), as in nccl-tests: algbw = size / time; busbw = algbw * factor, the per-rank
// traffic of a bandwidth-optimal algorithm, comparable across collectives and rank counts:
//   allreduce 2(p-1)/p   allgather, reducescatter, alltoall (p-1)/p   broadcast, sendrecv 1
// (On one rank the (p-1)/p factors are 0: busbw is 0 there, the times remain meaningful.)
//
// Timing. Every rank runs the same benchmarks with the same fixed iteration counts (lock step); each
// collective is timed from an MPI_Barrier to its end, and the time used is the maximum over the ranks
// (manual time).
//
// Benchmarks per collective C and size S:
//   C/<variant>/S  each of our variants alone (exact, fast, or the one Communicator call, named "parity"),
//   C/mpi/S        the raw MPI call alone;
//                  counters algbw_GB/s, busbw_GB/s and of_ceiling = busbw / the copy bound of one core
//                  (parity::bench::kCopyBytesPerCore, kernels/bench/ceilings.hpp: shared-memory transport
//                  copies every byte a rank receives at least once);
//   C/paired/S     all of them interleaved iteration by iteration (the order rotated every iteration), so
//                  that each sees the same machine noise — on a shared machine the only fair comparison;
//                  counters busbw_<variant> for each, busbw_mpi, of_mpi = busbw of the first variant / busbw
//                  of the raw MPI call (the ratio of their total times) and of_mpi_<variant> for the others;
//                  where the first variant is `exact`, also exact/mpi (= of_mpi, the name the all-reduce
//                  benchmark has always used).
// The summary printed after the table comes from the paired runs (median over repetitions).
#pragma once
#include <benchmark/benchmark.h>
#include <mpi.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kernels/bench/ceilings.hpp"
#include "kernels/comm/communicator.hpp"

namespace parity::bench_comm {

// Set up by main (bench_comm.cpp) before any benchmark runs.
struct World {
  std::unique_ptr<Communicator> comm;  // make_mpi_communicator(MPI_COMM_WORLD)
  int rank = 0, size = 1;
};
World& world();

enum class Coll { allreduce, allgather, reducescatter, alltoall, broadcast, sendrecv };

inline const char* coll_name(Coll c) {
  switch (c) {
    case Coll::allreduce: return "allreduce";
    case Coll::allgather: return "allgather";
    case Coll::reducescatter: return "reducescatter";
    case Coll::alltoall: return "alltoall";
    case Coll::broadcast: return "broadcast";
    case Coll::sendrecv: return "sendrecv";
  }
  return "?";
}

// busbw = algbw * bus_factor (nccl-tests, doc/PERFORMANCE.md).
inline double bus_factor(Coll c, int p) {
  switch (c) {
    case Coll::allreduce: return 2.0 * (p - 1) / p;
    case Coll::allgather:
    case Coll::reducescatter:
    case Coll::alltoall: return double(p - 1) / p;
    case Coll::broadcast:
    case Coll::sendrecv: return 1.0;
  }
  return 0.0;
}

// "64KiB", "16MiB".
inline std::string size_name(long bytes) {
  return bytes >= (1L << 20) && bytes % (1L << 20) == 0 ? std::to_string(bytes >> 20) + "MiB"
         : bytes >= (1L << 10) && bytes % (1L << 10) == 0 ? std::to_string(bytes >> 10) + "KiB"
                                                          : std::to_string(bytes) + "B";
}

// Fixed (the same on every rank): about 1 GiB of collective per benchmark, 50 .. 20000 iterations.
inline long iterations_for(long bytes) { return std::clamp((long(1) << 30) / std::max(bytes, 1L), 50L, 20000L); }

// One collective, timed from a barrier; the maximum over the ranks.
template <class Op>
double timed(const Op& op) {
  MPI_Barrier(MPI_COMM_WORLD);
  const double t0 = MPI_Wtime();
  op();
  double t = MPI_Wtime() - t0, tmax = 0;
  MPI_Allreduce(&t, &tmax, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return tmax;
}

struct Variant {
  std::string name;           // "exact", "fast", "parity", "mpi"
  std::function<void()> run;  // one collective on the case's buffers
};

// One collective at one size, on buffers the lambdas own (allocated by the Setup when the benchmark starts,
// freed when it ends). Every rank builds the same case.
struct Case {
  long bytes = 0;              // the nccl-tests size (see above), after rounding to whole per-rank parts
  std::vector<Variant> ours;   // the Communicator operation, one entry per numerics where it has them
  Variant mpi;                 // the raw MPI call on the same buffers
};
using Setup = std::function<Case(long bytes)>;

// Registers C/<variant>/S, C/mpi/S and C/paired/S for every size. `variants` names the entries of
// Case::ours in order (for the benchmark names; the Setup must return them in the same order); mpi_call
// names the raw MPI call for the summary.
void register_collective(Coll c, std::vector<std::string> variants, const char* mpi_call, Setup setup);

// The per-collective files (bench_comm_<collective>.cpp); main calls them in this order.
void register_allreduce();
void register_allgather();
void register_reducescatter();
void register_alltoall();
void register_broadcast();
void register_sendrecv();

// Per-rank element counts of a collective of `bytes` whose parts are bytes / p each (all-gather,
// reduce-scatter, all-to-all); at least one element.
inline long part_floats(long bytes, int p) { return std::max(bytes / long(sizeof(float)) / p, 1L); }

}  // namespace parity::bench_comm
