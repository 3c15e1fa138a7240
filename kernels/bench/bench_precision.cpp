// round_to throughput (kernels/precision.hpp): rounding a buffer of 1M floats in place to bf16 and to fp16,
// through round_to (the AVX-512 path where the build has it) and through the portable array helpers of
// kernels/bf16.hpp / kernels/fp16.hpp, in GB/s of memory traffic (4 bytes read + 4 bytes written per float).
//   build/kernels/bench/bench_precision
// (on a shared machine add --benchmark_repetitions=5 --benchmark_report_aggregates_only=true). Sizes: 1M floats
// (4 MiB, the size of a typical activation; in L2/L3 on most server parts) and 16M floats (64 MiB, from DRAM).
#include <Kokkos_Core.hpp>
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "kernels/bf16.hpp"
#include "kernels/fp16.hpp"
#include "kernels/precision.hpp"

namespace {

using parity::Precision;

std::vector<float> activations(long n) {
  std::mt19937 gen(1);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

// Rounding is idempotent, so after the first iteration the buffer holds 16-bit values; the work per element
// is the same either way (no data-dependent branches).
void run(benchmark::State& state, Precision p, bool portable) {
  const long n = state.range(0);
  std::vector<float> x = activations(n);
  for (auto _ : state) {
    if (!portable)
      parity::round_to(p, x.data(), n);
    else if (p == Precision::bf16)
      parity::round_to_bf16_array(x.data(), n);
    else
      parity::round_to_fp16_array(x.data(), n);
    benchmark::DoNotOptimize(x.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * n * int64_t(2 * sizeof(float)));
  state.counters["Gfloat/s"] = benchmark::Counter(double(n) * double(state.iterations()) * 1e-9,
                                                  benchmark::Counter::kIsRate);
}

void register_all() {
  for (Precision p : {Precision::bf16, Precision::fp16})
    for (bool portable : {false, true}) {
      const std::string name = std::string("round_to/") + parity::to_string(p) + (portable ? "/portable" : "/round_to");
      benchmark::RegisterBenchmark(name.c_str(), run, p, portable)
          ->Arg(1L << 20)
          ->Arg(1L << 24)
          ->Unit(benchmark::kMicrosecond);
    }
}

}  // namespace

int main(int argc, char** argv) {
  Kokkos::initialize(argc, argv);
  register_all();
  benchmark::Initialize(&argc, argv);
  const bool bad_args = benchmark::ReportUnrecognizedArguments(argc, argv);
  if (!bad_args) benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  Kokkos::finalize();
  return bad_args ? 1 : 0;
}
