// All-reduce bandwidth: parity's exact all-reduce (canonical tree over ranks) against MPI_Allreduce, for
// 1 KiB .. 16 MiB of fp32 (powers of 4). Run under MPI, e.g. on two ranks:
//   OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpiexec -n 2 build/kernels/bench/bench_comm \
//       --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//
// Every rank runs the same benchmarks with the same fixed iteration counts (lock step; do not use
// --benchmark_enable_random_interleaving, which shuffles differently on every rank); each iteration is timed
// from an MPI_Barrier to the end of the collective, and the time used is the maximum over the ranks (manual
// time). Only rank 0 reports, and only rank 0 writes --benchmark_out.
//
// Benchmarks per size: allreduce/exact/<size> and allreduce/mpi/<size> (counters algbw and busbw =
// algbw * 2(p-1)/p, the nccl-tests convention: the per-rank traffic of a bandwidth-optimal all-reduce, in
// GB/s = 1e9 B/s), and allreduce/paired/<size>, which alternates the two iteration by iteration (order
// swapped every iteration) so that both see the same machine noise — on a shared machine the only fair
// comparison; its counters are busbw_exact, busbw_mpi and exact/mpi. The summary after the table is taken
// from the paired runs (median over repetitions).
#include <benchmark/benchmark.h>
#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kernels/comm/communicator.hpp"

namespace {

enum class Impl { exact, mpi, paired };
const char* impl_name(Impl i) { return i == Impl::exact ? "exact" : i == Impl::mpi ? "mpi" : "paired"; }

std::unique_ptr<parity::Communicator> g_comm;
int g_rank = 0, g_size = 1;

long iterations_for(long bytes) { return std::clamp((long(1) << 30) / bytes, 50L, 20000L); }

double bus_factor() { return 2.0 * (g_size - 1) / g_size; }

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

void run_allreduce(benchmark::State& state, Impl impl, long bytes) {
  const long n = bytes / long(sizeof(float));
  std::vector<float> buf(n, 1.0f);  // grows by p each time, to inf: never NaN, never denormal
  const auto exact = [&] { g_comm->allreduce_sum(buf.data(), n, parity::Numerics::exact); };
  const auto mpi = [&] { MPI_Allreduce(MPI_IN_PLACE, buf.data(), int(n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD); };
  exact();  // warm-up: scratch buffers, first touch of pages, connections
  mpi();
  double t_exact = 0, t_mpi = 0;
  long k = 0;
  for (auto _ : state) {
    double t = 0;
    if (impl == Impl::exact) {
      t = timed(exact);
      t_exact += t;
    } else if (impl == Impl::mpi) {
      t = timed(mpi);
      t_mpi += t;
    } else {
      const double a = (k % 2 == 0) ? timed(exact) : 0.0;
      const double b = timed(mpi);
      const double c = (k % 2 == 1) ? timed(exact) : 0.0;
      t_exact += a + c;
      t_mpi += b;
      t = a + b + c;
    }
    state.SetIterationTime(t);
    ++k;
  }
  const double moved = double(bytes) * double(state.iterations()) / 1e9;
  if (impl == Impl::paired) {
    state.counters["busbw_exact"] = moved / t_exact * bus_factor();
    state.counters["busbw_mpi"] = moved / t_mpi * bus_factor();
    state.counters["exact/mpi"] = t_mpi / t_exact;
  } else {
    const double algbw = moved / (impl == Impl::exact ? t_exact : t_mpi);
    state.counters["algbw_GB/s"] = algbw;
    state.counters["busbw_GB/s"] = algbw * bus_factor();
    state.SetBytesProcessed(int64_t(bytes) * state.iterations());
  }
}

std::map<std::string, long> g_paired;  // paired benchmark name -> bytes

void register_all() {
  for (long bytes = 1024; bytes <= (16L << 20); bytes *= 4)
    for (Impl impl : {Impl::exact, Impl::mpi, Impl::paired}) {
      const std::string size =
          bytes >= (1 << 20) ? std::to_string(bytes >> 20) + "MiB" : std::to_string(bytes >> 10) + "KiB";
      const std::string name = std::string("allreduce/") + impl_name(impl) + "/" + size;
      benchmark::RegisterBenchmark(name.c_str(), run_allreduce, impl, bytes)
          ->UseManualTime()
          ->Iterations(iterations_for(bytes))
          ->Unit(benchmark::kMicrosecond);
      if (impl == Impl::paired) g_paired[name] = bytes;
    }
}

class NullReporter : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>&) override {}
};

struct Row {
  std::vector<double> exact, mpi, ratio;  // per repetition
  double med_exact = 0, med_mpi = 0, med_ratio = 0;  // from the median aggregate, if reported
};

class Reporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      const auto it = g_paired.find(r.run_name.function_name);
      if (it == g_paired.end()) continue;
      const auto get = [&](const char* c) {
        const auto f = r.counters.find(c);
        return f == r.counters.end() ? 0.0 : f->second.value;
      };
      Row& row = rows[it->second];
      if (r.run_type == Run::RT_Iteration) {
        row.exact.push_back(get("busbw_exact"));
        row.mpi.push_back(get("busbw_mpi"));
        row.ratio.push_back(get("exact/mpi"));
      } else if (r.aggregate_name == "median") {  // --benchmark_report_aggregates_only
        row.med_exact = get("busbw_exact");
        row.med_mpi = get("busbw_mpi");
        row.med_ratio = get("exact/mpi");
      }
    }
  }
  std::map<long, Row> rows;
};

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

void print_summary(const Reporter& rep) {
  if (rep.rows.empty()) return;
  std::printf("\nall-reduce busbw on %d ranks, exact and MPI_Allreduce interleaved (GB/s, median over repetitions)\n",
              g_size);
  std::printf("%10s %10s %10s %10s   (ratio: median of the per-repetition ratios)\n", "size", "exact", "MPI",
              "exact/MPI");
  for (const auto& [bytes, row] : rep.rows) {
    const bool agg = row.exact.empty();
    const double e = agg ? row.med_exact : median(row.exact), m = agg ? row.med_mpi : median(row.mpi);
    const double q = agg ? row.med_ratio : median(row.ratio);
    const std::string size =
        bytes >= (1 << 20) ? std::to_string(bytes >> 20) + " MiB" : std::to_string(bytes >> 10) + " KiB";
    std::printf("%10s %10.2f %10.2f %9.0f%%\n", size.c_str(), e, m, 100 * q);
  }
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  // Only rank 0 writes files: the others drop --benchmark_out* before the library sees it.
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i)
    if (g_rank == 0 || std::strncmp(argv[i], "--benchmark_out", 15) != 0) args.push_back(argv[i]);
  int nargs = int(args.size());
  bool bad_args = false;
  for (int i = 1; i < nargs; ++i)
    if (std::strstr(args[i], "random_interleaving") && g_size > 1) {
      if (g_rank == 0) std::fprintf(stderr, "bench_comm: random interleaving would desynchronise the ranks\n");
      bad_args = true;
    }
  g_comm = parity::make_mpi_communicator(MPI_COMM_WORLD);
  register_all();
  benchmark::Initialize(&nargs, args.data());
  bad_args = bad_args || benchmark::ReportUnrecognizedArguments(nargs, args.data());
  if (!bad_args) {
    if (g_rank == 0) {
      Reporter reporter;
      benchmark::RunSpecifiedBenchmarks(&reporter);
      print_summary(reporter);
    } else {
      NullReporter null;
      benchmark::RunSpecifiedBenchmarks(&null);
    }
  }
  benchmark::Shutdown();
  g_comm.reset();
  MPI_Finalize();
  return bad_args ? 1 : 0;
}
