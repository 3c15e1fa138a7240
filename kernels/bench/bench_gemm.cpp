// GEMM throughput: each form in exact and fast numerics, and OpenBLAS's cblas_sgemm called directly for the
// same product as the peer, at 1024^3 and the `small` model's linear-layer shapes. Run single-threaded:
//   OPENBLAS_NUM_THREADS=1 build/kernels/bench/bench_gemm
// (OpenBLAS picks its AVX-512 kernel only with OPENBLAS_CORETYPE unset; on a shared machine add
// --benchmark_repetitions=5 --benchmark_report_aggregates_only=true.) After the usual table, prints a summary:
// GFLOP/s per form and variant (median over repetitions) and exact as a fraction of the direct cblas_sgemm
// of the same shape. Counter of_ceiling: the fraction of one core's fp32 peak (kernels/bench/ceilings.hpp).
// Rates are per CPU second, which is steadier than wall time when the machine is shared.
#include <Kokkos_Core.hpp>
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <cstdio>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/bench/ceilings.hpp"
#include "kernels/gemm.hpp"

namespace {

using parity::Numerics;

enum class Form { xwt, dyw, dytx };
enum class Variant { exact, fast, openblas };

const char* form_name(Form f) { return f == Form::xwt ? "xwt" : f == Form::dyw ? "dyw" : "dytx"; }
const char* variant_name(Variant v) {
  return v == Variant::exact ? "exact" : v == Variant::fast ? "fast" : "openblas";
}

// Linear-layer shapes (N rows, K inputs, O outputs): the 1024^3 yardstick, the `small` model at B*T = 1024
// (qkv, attention projection, MLP up, MLP down, LM head) and a 64-row micro-batch slice.
struct Shape {
  long N, K, O;
};
const Shape kShapes[] = {{1024, 1024, 1024}, {1024, 256, 768},  {1024, 256, 256}, {1024, 256, 1024},
                         {1024, 1024, 256},  {1024, 256, 8192}, {64, 128, 384}};

std::vector<float> random_vector(long n, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

void run_gemm(benchmark::State& state, Form form, Variant variant, Shape s) {
  const long N = s.N, K = s.K, O = s.O;
  // xwt: X[N,K], W[O,K] -> Y[N,O]; dyw: dY[N,O], W[O,K] -> dX[N,K]; dytx: dY[N,O], X[N,K] -> dW[O,K].
  const std::vector<float> lhs = random_vector(N * (form == Form::xwt ? K : O), 1);
  const std::vector<float> rhs = random_vector(form == Form::dytx ? N * K : O * K, 2);
  const std::vector<float> bias = random_vector(O, 3);
  std::vector<float> out(form == Form::xwt ? N * O : form == Form::dyw ? N * K : O * K);
  const Numerics num = variant == Variant::exact ? Numerics::exact : Numerics::fast;
  for (auto _ : state) {
    if (variant == Variant::openblas) {
      switch (form) {
        case Form::xwt:
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, O, K, 1.0f, lhs.data(), K, rhs.data(), K, 0.0f,
                      out.data(), O);
          break;
        case Form::dyw:
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, K, O, 1.0f, lhs.data(), O, rhs.data(), K, 0.0f,
                      out.data(), K);
          break;
        case Form::dytx:
          cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, O, K, N, 1.0f, lhs.data(), O, rhs.data(), K, 0.0f,
                      out.data(), K);
          break;
      }
    } else {
      switch (form) {
        case Form::xwt: parity::gemm_xwt(num, lhs.data(), rhs.data(), bias.data(), out.data(), N, K, O); break;
        case Form::dyw: parity::gemm_dyw(num, lhs.data(), rhs.data(), out.data(), N, O, K); break;
        case Form::dytx: parity::gemm_dytx(num, lhs.data(), rhs.data(), out.data(), N, O, K); break;
      }
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2e-9 * double(N) * double(K) * double(O) * double(state.iterations()),
                         benchmark::Counter::kIsRate);
  // Fraction of one core's fp32 FMA peak (kernels/bench/ceilings.hpp); a rate counter, printed with "/s".
  state.counters["of_ceiling"] =
      benchmark::Counter(2.0 * double(N) * double(K) * double(O) * double(state.iterations()) /
                             parity::bench::kFp32PeakFlopsPerCore,
                         benchmark::Counter::kIsRate);
}

// Benchmark name -> (form, variant, shape index), to pair each exact run with its OpenBLAS peer afterwards.
std::map<std::string, std::tuple<Form, Variant, int>> g_registered;

void register_all() {
  for (int si = 0; si < int(std::size(kShapes)); ++si)
    for (Form f : {Form::xwt, Form::dyw, Form::dytx})
      for (Variant v : {Variant::exact, Variant::fast, Variant::openblas}) {
        const Shape s = kShapes[si];
        const std::string name = std::string("gemm_") + form_name(f) + "/" + variant_name(v) + "/N" +
                                 std::to_string(s.N) + "_K" + std::to_string(s.K) + "_O" + std::to_string(s.O);
        benchmark::RegisterBenchmark(name.c_str(), run_gemm, f, v, s)->Unit(benchmark::kMillisecond);
        g_registered[name] = {f, v, si};
      }
}

// Console output as usual, and each benchmark's GFLOP/s kept for the exact-versus-OpenBLAS summary: the
// median aggregate when there are repetitions (also with --benchmark_report_aggregates_only), else the run.
class Reporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      const auto it = g_registered.find(r.run_name.str());
      const auto c = r.counters.find("GFLOP/s");
      if (it == g_registered.end() || c == r.counters.end()) continue;
      if (r.run_type == Run::RT_Aggregate && r.aggregate_name == "median")
        median_[it->second] = c->second.value;
      else if (r.run_type == Run::RT_Iteration)
        last_[it->second] = c->second.value;
    }
  }
  // 0 if the benchmark did not run (filtered out).
  double gflops(Form f, Variant v, int shape) const {
    for (const auto* m : {&median_, &last_}) {
      const auto it = m->find({f, v, shape});
      if (it != m->end()) return it->second;
    }
    return 0.0;
  }

 private:
  std::map<std::tuple<Form, Variant, int>, double> median_, last_;
};

void print_summary(const Reporter& rep) {
  std::printf("\n%-6s %-22s %10s %10s %10s %8s\n", "form", "shape N,K,O", "exact", "fast", "openblas", "exact/");
  std::printf("%-6s %-22s %10s %10s %10s %8s\n", "", "", "GFLOP/s", "GFLOP/s", "GFLOP/s", "openblas");
  for (int si = 0; si < int(std::size(kShapes)); ++si)
    for (Form f : {Form::xwt, Form::dyw, Form::dytx}) {
      const auto get = [&](Variant v) { return rep.gflops(f, v, si); };
      const double exact = get(Variant::exact), fast = get(Variant::fast), blas = get(Variant::openblas);
      if (exact == 0.0 && fast == 0.0 && blas == 0.0) continue;  // filtered out
      const Shape s = kShapes[si];
      const std::string shape = std::to_string(s.N) + "," + std::to_string(s.K) + "," + std::to_string(s.O);
      std::printf("%-6s %-22s %10.1f %10.1f %10.1f", form_name(f), shape.c_str(), exact, fast, blas);
      if (exact > 0.0 && blas > 0.0)
        std::printf(" %7.0f%%\n", 100.0 * exact / blas);
      else
        std::printf(" %8s\n", "-");
    }
}

}  // namespace

int main(int argc, char** argv) {
  Kokkos::initialize(argc, argv);
  register_all();
  benchmark::Initialize(&argc, argv);
  const bool bad_args = benchmark::ReportUnrecognizedArguments(argc, argv);
  if (!bad_args) {
    Reporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    print_summary(reporter);
  }
  benchmark::Shutdown();
  Kokkos::finalize();
  return bad_args ? 1 : 0;
}
