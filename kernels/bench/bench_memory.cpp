// Memory bandwidth, STREAM style: copy c = a, scale b = s*c, add c = a + b, triad a = b + s*c over fp64
// arrays of 64 MiB each (several times the last-level cache), on one thread and on two (one per core of the
// build machine; each thread its own arrays, first touched by that thread), plus memcpy of the same size
// (glibc's, which may use non-temporal stores: what a library copy gets, for comparison). Run:
//   build/kernels/bench/bench_memory --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
// Counts bytes as STREAM does (copy and scale 2 words per element, add and triad 3; write-allocate traffic
// not counted), in GB/s = 1e9 B/s. Counter of_ceiling: the fraction of the triad ceiling of
// kernels/bench/ceilings.hpp (~30 GB/s per core) times the number of threads — the memory
// ceiling bench_kernels measures its memory-bound kernels against (override with PARITY_PEAK_GBS, GB/s per
// core, as there). Wall-clock time: the rates of the two-thread runs are totals over both threads.
// After the usual table, prints a summary (medians if repeated).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kernels/bench/ceilings.hpp"

namespace {

constexpr long kArrayBytes = 64L << 20;
constexpr long kN = kArrayBytes / long(sizeof(double));
constexpr double kScalar = 3.0;

double env_or(const char* name, double fallback) {
  const char* s = std::getenv(name);
  if (!s || !*s) return fallback;
  char* end = nullptr;
  const double v = std::strtod(s, &end);
  return (end != s && v > 0.0) ? v : fallback;
}
const double g_peak_gbs = env_or("PARITY_PEAK_GBS", parity::bench::kTriadBytesPerCore * 1e-9);

enum class Kernel { copy, scale, add, triad, memcpy_ };
const char* kernel_name(Kernel k) {
  switch (k) {
    case Kernel::copy: return "copy";
    case Kernel::scale: return "scale";
    case Kernel::add: return "add";
    case Kernel::triad: return "triad";
    case Kernel::memcpy_: return "memcpy";
  }
  return "?";
}
// Words moved per element, STREAM counting.
int words(Kernel k) { return k == Kernel::add || k == Kernel::triad ? 3 : 2; }

// Out of line and restrict-qualified: plain vectorised loops (CMakeLists.txt compiles this file with
// -fno-tree-loop-distribute-patterns, so the copy stays a loop rather than a call to memcpy; the build has
// -ffp-contract=off, so the triad is a multiply and an add, which changes nothing for a memory-bound loop).
__attribute__((noinline)) void do_copy(double* __restrict c, const double* __restrict a, long n) {
  for (long i = 0; i < n; ++i) c[i] = a[i];
}
__attribute__((noinline)) void do_scale(double* __restrict b, const double* __restrict c, double s, long n) {
  for (long i = 0; i < n; ++i) b[i] = s * c[i];
}
__attribute__((noinline)) void do_add(double* __restrict c, const double* __restrict a, const double* __restrict b,
                                      long n) {
  for (long i = 0; i < n; ++i) c[i] = a[i] + b[i];
}
__attribute__((noinline)) void do_triad(double* __restrict a, const double* __restrict b, const double* __restrict c,
                                        double s, long n) {
  for (long i = 0; i < n; ++i) a[i] = b[i] + s * c[i];
}

struct Free {
  void operator()(double* p) const { std::free(p); }
};
using Array = std::unique_ptr<double[], Free>;

Array make_array(double value) {
  auto* p = static_cast<double*>(std::aligned_alloc(2L << 20, kArrayBytes));  // 2 MiB: huge-page friendly
  if (!p) std::abort();
  for (long i = 0; i < kN; ++i) p[i] = value;  // first touch by the thread that uses it
  return Array(p);
}

void run(benchmark::State& state, Kernel k) {
  Array a = make_array(1.0), b = make_array(2.0), c = make_array(0.0);
  for (auto _ : state) {
    switch (k) {
      case Kernel::copy: do_copy(c.get(), a.get(), kN); break;
      case Kernel::scale: do_scale(b.get(), c.get(), kScalar, kN); break;
      case Kernel::add: do_add(c.get(), a.get(), b.get(), kN); break;
      case Kernel::triad: do_triad(a.get(), b.get(), c.get(), kScalar, kN); break;
      case Kernel::memcpy_: std::memcpy(c.get(), a.get(), kArrayBytes); break;
    }
    benchmark::DoNotOptimize(a.get());
    benchmark::DoNotOptimize(b.get());
    benchmark::DoNotOptimize(c.get());
    benchmark::ClobberMemory();
  }
  const double bytes = double(words(k)) * double(kArrayBytes) * double(state.iterations());
  state.SetBytesProcessed(int64_t(bytes));  // summed over threads, per wall second
  // Seconds at the ceiling (per core, times the threads), per second taken: summed over the threads.
  state.counters["of_ceiling"] =
      benchmark::Counter(bytes / (g_peak_gbs * 1e9 * state.threads()), benchmark::Counter::kIsRate);
}

std::vector<std::string> g_order;

void register_all() {
  for (int threads : {1, 2})
    for (Kernel k : {Kernel::copy, Kernel::scale, Kernel::add, Kernel::triad, Kernel::memcpy_}) {
      const std::string name = std::string(kernel_name(k));
      benchmark::RegisterBenchmark(name.c_str(), run, k)->Threads(threads)->UseRealTime()->Unit(benchmark::kMillisecond);
      g_order.push_back(name + "/" + std::to_string(threads));
    }
}

// Colour only on a terminal (a custom ConsoleReporter does not see --benchmark_color).
class Reporter : public benchmark::ConsoleReporter {
 public:
  Reporter() : ConsoleReporter(isatty(fileno(stdout)) ? OO_ColorTabular : OO_Tabular) {}
  struct Row {
    std::vector<double> gbs, frac;
    double med_gbs = -1, med_frac = -1;
  };
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      const auto get = [&](const char* c) {
        const auto f = r.counters.find(c);
        return f == r.counters.end() ? 0.0 : f->second.value;
      };
      Row& row = rows[r.run_name.function_name + "/" + std::to_string(r.threads)];
      if (r.run_type == Run::RT_Iteration) {
        row.gbs.push_back(get("bytes_per_second") * 1e-9);
        row.frac.push_back(get("of_ceiling"));
      } else if (r.aggregate_name == "median") {
        row.med_gbs = get("bytes_per_second") * 1e-9;
        row.med_frac = get("of_ceiling");
      }
    }
  }
  std::map<std::string, Row> rows;
};

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

void print_summary(const Reporter& rep) {
  std::printf("\n%ld MiB per array; ceiling %.0f GB/s per core (triad, kernels/bench/ceilings.hpp); medians if repeated\n",
              kArrayBytes >> 20, g_peak_gbs);
  std::printf("%-8s %8s %10s %11s\n", "kernel", "threads", "GB/s", "of_ceiling");
  for (const std::string& name : g_order) {
    const auto it = rep.rows.find(name);
    if (it == rep.rows.end()) continue;  // filtered out
    const Reporter::Row& r = it->second;
    const bool agg = r.med_gbs >= 0;
    const double gbs = agg ? r.med_gbs : median(r.gbs), frac = agg ? r.med_frac : median(r.frac);
    const std::string kernel = name.substr(0, name.find('/'));
    const std::string threads = name.substr(name.rfind('/') + 1);
    std::printf("%-8s %8s %10.2f %10.1f%%\n", kernel.c_str(), threads.c_str(), gbs, 100 * frac);
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  const bool bad_args = benchmark::ReportUnrecognizedArguments(argc, argv);
  if (!bad_args) {
    Reporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    print_summary(reporter);
  }
  benchmark::Shutdown();
  return bad_args ? 1 : 0;
}
