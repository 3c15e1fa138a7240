// Collective bandwidth, nccl-tests style: for every collective the project's Communicator operation (exact
// and fast where it has both) against the raw MPI call on the same buffers, 64 KiB .. 16 MiB (powers of 4).
// Run under MPI, e.g. on two ranks:
//   OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpiexec -n 2 build/kernels/bench/bench_comm \
//       --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// (one rank works too). One collective: --benchmark_filter=allgather/ ; other sizes: --min_bytes=1024
// --max_bytes=67108864 (powers of 4 from min_bytes).
//
// This file: the harness (comm_harness.hpp describes the benchmarks, the sizes, busbw and the counters),
// the reporter and main. Each collective is described in its own file, bench_comm_<collective>.cpp.
// Do not use --benchmark_enable_random_interleaving: it shuffles differently on every rank, and the ranks
// must run the same collectives in the same order. Only rank 0 reports, and only rank 0 writes
// --benchmark_out.
//
// After the usual table, a summary per collective from the paired runs: busbw of each variant and of the
// raw MPI call (median over repetitions), of_mpi, and of_ceiling — busbw of the first variant as a
// fraction of the copy bound of one core (kernels/bench/ceilings.hpp; messages that fit in cache can beat
// it).
#include <benchmark/benchmark.h>
#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kernels/bench/comm_harness.hpp"

namespace parity::bench_comm {

World& world() {
  static World w;
  return w;
}

namespace {

long g_min_bytes = 64L << 10, g_max_bytes = 16L << 20;

// What the summary needs to know of each collective.
struct Registered {
  Coll coll;
  std::vector<std::string> variants;
  std::string mpi_call;
};
std::vector<Registered> g_colls;
struct PairedKey {
  int coll;  // index into g_colls
  long bytes;
};
std::map<std::string, PairedKey> g_paired;  // paired benchmark name -> (collective, size)

// Every variant once: scratch buffers, first touch of pages, connections.
void warm_up(const Case& cs) {
  for (const Variant& v : cs.ours) v.run();
  cs.mpi.run();
}

void run_alone(benchmark::State& state, Coll coll, const Setup& setup, long bytes, int which) {
  const Case cs = setup(bytes);
  const Variant& v = which < 0 ? cs.mpi : cs.ours.at(which);
  warm_up(cs);
  double total = 0;
  for (auto _ : state) {
    const double t = timed(v.run);
    total += t;
    state.SetIterationTime(t);
  }
  const double algbw = double(cs.bytes) * double(state.iterations()) / 1e9 / total;
  const double busbw = algbw * bus_factor(coll, world().size);
  state.counters["algbw_GB/s"] = algbw;
  state.counters["busbw_GB/s"] = busbw;
  state.counters["of_ceiling"] = busbw / (parity::bench::kCopyBytesPerCore * 1e-9);
  state.SetBytesProcessed(int64_t(cs.bytes) * state.iterations());
}

void run_paired(benchmark::State& state, Coll coll, const Setup& setup, long bytes) {
  const Case cs = setup(bytes);
  std::vector<const Variant*> ops;
  for (const Variant& v : cs.ours) ops.push_back(&v);
  ops.push_back(&cs.mpi);
  const int m = int(ops.size());
  warm_up(cs);
  std::vector<double> total(m, 0.0);
  long k = 0;
  for (auto _ : state) {
    double t = 0;
    for (int j = 0; j < m; ++j) {  // rotated order: on two ops, exact-mpi then mpi-exact
      const int i = int((k + j) % m);
      const double ti = timed(ops[i]->run);
      total[i] += ti;
      t += ti;
    }
    state.SetIterationTime(t);
    ++k;
  }
  const double moved = double(cs.bytes) * double(state.iterations()) / 1e9;
  const double f = bus_factor(coll, world().size);
  const double t_mpi = total[m - 1];
  for (int i = 0; i < m; ++i) state.counters["busbw_" + ops[i]->name] = moved / total[i] * f;
  for (int i = 0; i + 1 < m; ++i) {
    const double of = total[i] > 0 ? t_mpi / total[i] : 0.0;
    state.counters[i == 0 ? std::string("of_mpi") : "of_mpi_" + ops[i]->name] = of;
    if (i == 0 && ops[0]->name == "exact") state.counters["exact/mpi"] = of;
  }
}

class NullReporter : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>&) override {}
};

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

// Counter values of one paired benchmark: per repetition, and the median aggregate if reported.
struct Row {
  std::map<std::string, std::vector<double>> reps;
  std::map<std::string, double> med;
  double get(const std::string& c) const {
    const auto r = reps.find(c);
    if (r != reps.end()) return median(r->second);  // median of the per-repetition values
    const auto a = med.find(c);
    return a == med.end() ? 0.0 : a->second;
  }
};

// No colour: under mpiexec, Open MPI hands the ranks a pseudo-terminal even when the output goes to a file
// (and a custom ConsoleReporter does not see --benchmark_color).
class Reporter : public benchmark::ConsoleReporter {
 public:
  Reporter() : ConsoleReporter(OO_Tabular) {}
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      const auto it = g_paired.find(r.run_name.function_name);
      if (it == g_paired.end()) continue;
      Row& row = rows[{it->second.coll, it->second.bytes}];
      for (const auto& [name, c] : r.counters) {
        if (r.run_type == Run::RT_Iteration)
          row.reps[name].push_back(c.value);
        else if (r.aggregate_name == "median")  // --benchmark_report_aggregates_only
          row.med[name] = c.value;
      }
    }
  }
  std::map<std::pair<int, long>, Row> rows;
};

void print_summary(const Reporter& rep) {
  const double ceiling = parity::bench::kCopyBytesPerCore * 1e-9;
  for (int ci = 0; ci < int(g_colls.size()); ++ci) {
    const Registered& reg = g_colls[ci];
    bool any = false;
    for (const auto& [key, row] : rep.rows) any = any || key.first == ci;
    if (!any) continue;  // filtered out
    std::printf("\n%s on %d ranks: busbw (GB/s, busbw = algbw * %.3g) interleaved with %s, median over repetitions\n",
                coll_name(reg.coll), world().size, bus_factor(reg.coll, world().size), reg.mpi_call.c_str());
    std::printf("%10s", "size");
    for (const std::string& v : reg.variants) std::printf(" %10s", v.c_str());
    std::printf(" %10s", "MPI");
    for (const std::string& v : reg.variants) std::printf(" %10s", (v + "/MPI").c_str());
    std::printf(" %10s   (of_ceiling: %s vs %.0f GB/s copy bound)\n", "of_ceiling", reg.variants[0].c_str(), ceiling);
    for (const auto& [key, row] : rep.rows) {
      if (key.first != ci) continue;
      std::printf("%10s", size_name(key.second).c_str());
      for (const std::string& v : reg.variants) std::printf(" %10.2f", row.get("busbw_" + v));
      std::printf(" %10.2f", row.get("busbw_mpi"));
      for (size_t i = 0; i < reg.variants.size(); ++i)
        std::printf(" %9.0f%%", 100 * row.get(i == 0 ? std::string("of_mpi") : "of_mpi_" + reg.variants[i]));
      std::printf(" %9.0f%%\n", 100 * row.get("busbw_" + reg.variants[0]) / ceiling);
    }
  }
}

// Consumes --min_bytes=B and --max_bytes=B. False on a bad value.
bool parse_sizes(std::vector<char*>& args) {
  bool ok = true;
  std::vector<char*> rest;
  for (char* a : args) {
    long* target = std::strncmp(a, "--min_bytes=", 12) == 0   ? &g_min_bytes
                   : std::strncmp(a, "--max_bytes=", 12) == 0 ? &g_max_bytes
                                                              : nullptr;
    if (!target) {
      rest.push_back(a);
      continue;
    }
    char* end = nullptr;
    const long v = std::strtol(a + 12, &end, 10);
    if (end == a + 12 || *end || v < 4) ok = false;
    else *target = v;
  }
  args = rest;
  return ok && g_min_bytes <= g_max_bytes;
}

}  // namespace

void register_collective(Coll c, std::vector<std::string> variants, const char* mpi_call, Setup setup) {
  const int ci = int(g_colls.size());
  g_colls.push_back({c, variants, mpi_call});
  for (long bytes = g_min_bytes; bytes <= g_max_bytes; bytes *= 4) {
    const std::string prefix = std::string(coll_name(c)) + "/", size = "/" + size_name(bytes);
    const auto reg = [&](const std::string& name, auto fn, auto... args) {
      benchmark::RegisterBenchmark(name.c_str(), fn, args...)
          ->UseManualTime()
          ->Iterations(iterations_for(bytes))
          ->Unit(benchmark::kMicrosecond);
    };
    for (int i = 0; i < int(variants.size()); ++i) reg(prefix + variants[i] + size, run_alone, c, setup, bytes, i);
    reg(prefix + "mpi" + size, run_alone, c, setup, bytes, -1);
    reg(prefix + "paired" + size, run_paired, c, setup, bytes);
    g_paired[prefix + "paired" + size] = {ci, bytes};
  }
}

}  // namespace parity::bench_comm

int main(int argc, char** argv) {
  using namespace parity::bench_comm;
  MPI_Init(&argc, &argv);
  World& w = world();
  MPI_Comm_rank(MPI_COMM_WORLD, &w.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &w.size);
  // Only rank 0 writes files: the others drop --benchmark_out* before the library sees it.
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i)
    if (w.rank == 0 || std::strncmp(argv[i], "--benchmark_out", 15) != 0) args.push_back(argv[i]);
  bool bad_args = !parse_sizes(args);
  if (bad_args && w.rank == 0) std::fprintf(stderr, "bench_comm: bad --min_bytes/--max_bytes\n");
  for (size_t i = 1; i < args.size(); ++i)
    if (std::strstr(args[i], "random_interleaving") && w.size > 1) {
      if (w.rank == 0) std::fprintf(stderr, "bench_comm: random interleaving would desynchronise the ranks\n");
      bad_args = true;
    }
  w.comm = parity::make_mpi_communicator(MPI_COMM_WORLD);
  register_allreduce();
  register_allgather();
  register_reducescatter();
  register_alltoall();
  register_broadcast();
  register_sendrecv();
  int nargs = int(args.size());
  benchmark::Initialize(&nargs, args.data());
  bad_args = benchmark::ReportUnrecognizedArguments(nargs, args.data()) || bad_args;
  if (!bad_args) {
    if (w.rank == 0) {
      Reporter reporter;
      benchmark::RunSpecifiedBenchmarks(&reporter);
      print_summary(reporter);
    } else {
      NullReporter null;
      benchmark::RunSpecifiedBenchmarks(&null);
    }
  }
  benchmark::Shutdown();
  w.comm.reset();
  MPI_Finalize();
  return bad_args ? 1 : 0;
}
