// All-reduce bandwidth: parity's exact all-reduce (canonical tree over ranks) against MPI_Allreduce, for
// 1 KiB .. 16 MiB of fp32. Run under MPI, e.g. on two ranks:
//   OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpiexec -n 2 build/kernels/bench/bench_comm
//
// Every rank runs the same benchmarks with the same fixed iteration counts (lock step); each iteration is
// timed between an MPI_Barrier and the end of the collective, and the time reported is the maximum over the
// ranks (manual time). Only rank 0 reports. Counters: algbw = bytes / time, busbw = algbw * 2(p-1)/p (the
// nccl-tests convention: the per-rank traffic of a bandwidth-optimal all-reduce), in GB/s (1e9 B/s).
// After the table rank 0 prints exact busbw as a fraction of MPI_Allreduce's at each size.
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

enum class Impl { exact, mpi };
const char* impl_name(Impl i) { return i == Impl::exact ? "exact" : "mpi"; }

std::unique_ptr<parity::Communicator> g_comm;
int g_rank = 0, g_size = 1;

long iterations_for(long bytes) { return std::clamp((long(1) << 30) / bytes, 50L, 20000L); }

void run_allreduce(benchmark::State& state, Impl impl, long bytes) {
  const long n = bytes / long(sizeof(float));
  std::vector<float> buf(n, 1.0f);  // grows by p each time, to inf: never NaN, never denormal
  auto op = [&] {
    if (impl == Impl::exact)
      g_comm->allreduce_sum(buf.data(), n, parity::Numerics::exact);
    else
      MPI_Allreduce(MPI_IN_PLACE, buf.data(), int(n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
  };
  op();  // warm-up: scratch buffers, first-touch of pages, connections
  double total = 0;
  for (auto _ : state) {
    MPI_Barrier(MPI_COMM_WORLD);
    const double t0 = MPI_Wtime();
    op();
    double t = MPI_Wtime() - t0, tmax = 0;
    MPI_Allreduce(&t, &tmax, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    state.SetIterationTime(tmax);
    total += tmax;
  }
  const double algbw = double(bytes) * double(state.iterations()) / total / 1e9;
  state.counters["algbw_GB/s"] = algbw;
  state.counters["busbw_GB/s"] = algbw * 2.0 * (g_size - 1) / g_size;
  state.SetBytesProcessed(int64_t(bytes) * state.iterations());
}

std::map<std::string, std::pair<Impl, long>> g_registered;

void register_all() {
  for (long bytes = 1024; bytes <= (16L << 20); bytes *= 4)
    for (Impl impl : {Impl::exact, Impl::mpi}) {
      const std::string size =
          bytes >= (1 << 20) ? std::to_string(bytes >> 20) + "MiB" : std::to_string(bytes >> 10) + "KiB";
      const std::string name = std::string("allreduce/") + impl_name(impl) + "/" + size;
      benchmark::RegisterBenchmark(name.c_str(), run_allreduce, impl, bytes)
          ->UseManualTime()
          ->Iterations(iterations_for(bytes))
          ->Unit(benchmark::kMicrosecond);
      g_registered[name] = {impl, bytes};
    }
}

class NullReporter : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>&) override {}
};

class Reporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      const auto it = g_registered.find(r.run_name.function_name);
      const auto c = r.counters.find("busbw_GB/s");
      if (it != g_registered.end() && c != r.counters.end() && r.run_type == Run::RT_Iteration)
        busbw[it->second.second][it->second.first].push_back(c->second.value);
    }
  }
  std::map<long, std::map<Impl, std::vector<double>>> busbw;
};

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

void print_summary(const Reporter& rep) {
  std::printf("\nall-reduce busbw on %d ranks (GB/s, median over repetitions)\n", g_size);
  std::printf("%10s %10s %10s %8s\n", "size", "exact", "MPI", "exact/MPI");
  for (const auto& [bytes, by] : rep.busbw) {
    const auto get = [&](Impl i) {
      const auto it = by.find(i);
      return it == by.end() ? 0.0 : median(it->second);
    };
    const double e = get(Impl::exact), m = get(Impl::mpi);
    const std::string size =
        bytes >= (1 << 20) ? std::to_string(bytes >> 20) + " MiB" : std::to_string(bytes >> 10) + " KiB";
    if (e > 0 && m > 0)
      std::printf("%10s %10.2f %10.2f %7.0f%%\n", size.c_str(), e, m, 100 * e / m);
    else
      std::printf("%10s %10.2f %10.2f %8s\n", size.c_str(), e, m, "-");
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
  g_comm = parity::make_mpi_communicator(MPI_COMM_WORLD);
  register_all();
  benchmark::Initialize(&nargs, args.data());
  const bool bad_args = benchmark::ReportUnrecognizedArguments(nargs, args.data());
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
