// End-to-end training-step throughput on one core: forward + backward over the micro-batches (parity::GPT2,
// the whole model on one device) and adamw_update over every parameter tensor, for the `tiny` and `small`
// presets with b = 4 sequences per micro-batch, in exact and fast numerics. Run single-threaded:
//   OPENBLAS_NUM_THREADS=1 build/kernels/bench/bench_train \
//       --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
// Reports tokens/s and MFU, the model FLOPs (FLOPs/token = 6*N + 12*L*T*C, N = ModelConfig::flops_params())
// as a fraction of the single-core fp32 peak (kPeakGFlops, kernels/bench/ceilings.hpp; override with the
// environment variable PARITY_PEAK_GFLOPS). Rates are per CPU second (steadier than wall time on a shared
// machine; equal to it when the process runs alone on its core, and only valid single-threaded).
// Left out of the step, as small next to it: the global gradient norm and clipping (clip factor 1 here),
// the learning-rate schedule and the canonical tree over the micro-batch losses (a plain sum here).
// After the usual table, prints a summary: tokens/s and MFU per preset and numerics (medians if repeated).
// Fast numerics calls OpenBLAS: its AVX-512 sgemm needs OPENBLAS_CORETYPE unset (docs/peers.md); with the
// environment's OPENBLAS_CORETYPE=Haswell, fast runs slower than exact.
#include <Kokkos_Core.hpp>
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <unistd.h>
#include <tuple>
#include <vector>

#include "kernels/adamw.hpp"
#include "kernels/bench/ceilings.hpp"
#include "kernels/canonical.hpp"
#include "kernels/gemm.hpp"
#include "kernels/parallel.hpp"
#include "reference/gpt2.hpp"
#include "reference/init.hpp"
#include "reference/model_config.hpp"
#include "reference/params.hpp"

namespace {

using parity::Numerics;

// fp32 FMA peak of one core of the build machine (kernels/bench/ceilings.hpp: the project's recorded figure).
// Override with PARITY_PEAK_GFLOPS.
constexpr double kPeakGFlops = parity::bench::kFp32PeakFlopsPerCore * 1e-9;

double env_or(const char* name, double fallback) {
  const char* s = std::getenv(name);
  if (!s || !*s) return fallback;
  char* end = nullptr;
  const double v = std::strtod(s, &end);
  return (end != s && v > 0.0) ? v : fallback;
}
const double g_peak_gflops = env_or("PARITY_PEAK_GFLOPS", kPeakGFlops);

constexpr long kSeqs = 4;  // b: sequences per micro-batch
constexpr uint64_t kSeed = 1;

// One training step's state: the model, parameters, gradients, AdamW moments and a synthetic batch.
struct Trainer {
  Trainer(const parity::ModelConfig& model, Numerics num, long micro_batches)
      : m(model),
        mb(micro_batches),
        gpt(model, num, kSeqs),
        params(gpt.layout().total()),
        grads(params.size()),
        mom(params.size(), 0.0f),
        var(params.size(), 0.0f),
        tree(micro_batches, micro_batches > 1 ? gpt.layout().total() : 0),  // unused with one micro-batch
        inputs(micro_batches * kSeqs * model.T),
        targets(inputs.size()) {
    parity::init_params(gpt.layout(), kSeed, params.data());
    std::mt19937 gen(7);
    std::uniform_int_distribution<int32_t> tok(0, static_cast<int32_t>(model.V - 1));
    for (int32_t& t : inputs) t = tok(gen);
    for (int32_t& t : targets) t = tok(gen);
  }

  long tokens() const { return mb * kSeqs * m.T; }

  // Returns the mean loss (as a check that the step did something).
  float step() {
    const long rows = kSeqs * m.T;
    const float dloss = 1.0f / static_cast<float>(tokens());
    float loss = 0.0f;
    const float* g = nullptr;
    if (mb == 1) {
      loss = gpt.forward(params.data(), inputs.data(), targets.data());
      gpt.backward(params.data(), grads.data(), inputs.data(), targets.data(), dloss);
      g = grads.data();
    } else {  // the micro-batch gradients summed with the canonical tree, as the trainer does
      tree.reset();
      for (long k = 0; k < mb; ++k) {
        const int32_t* in = inputs.data() + k * rows;
        const int32_t* tg = targets.data() + k * rows;
        loss += gpt.forward(params.data(), in, tg);
        gpt.backward(params.data(), tree.leaf(), in, tg, dloss);
        tree.push();
      }
      g = tree.result();
    }
    ++t;
    for (const parity::TensorInfo& ti : gpt.layout().tensors()) {
      const long o = ti.offset;
      parity::adamw_update(params.data() + o, mom.data() + o, var.data() + o, g + o, ti.size, 3e-4f,
                           ti.decay ? cfg.weight_decay : 0.0f, 1.0f, t, cfg);
    }
    return loss / static_cast<float>(tokens());
  }

  parity::ModelConfig m;
  long mb;
  parity::GPT2 gpt;
  std::vector<float> params, grads, mom, var;
  parity::VecTree tree;
  std::vector<int32_t> inputs, targets;
  parity::AdamWConfig cfg;
  long t = 0;
};

// The benchmark function runs once per iteration-count trial and per repetition; the trainer (parameter
// initialisation, buffers, a warm-up step for the first touch of every buffer) is built once and kept for
// the next call of the same benchmark, so that setup does not count against the time limit. Its parameters
// simply keep training.
std::unique_ptr<Trainer> g_kept;  // released in main before Kokkos::finalize

Trainer& trainer_for(const std::string& preset, Numerics num, long micro_batches) {
  std::unique_ptr<Trainer>& kept = g_kept;
  static std::tuple<std::string, Numerics, long> key;
  const auto want = std::make_tuple(preset, num, micro_batches);
  if (!kept || key != want) {
    kept.reset();  // free the previous model first
    kept = std::make_unique<Trainer>(parity::model_preset(preset), num, micro_batches);
    kept->step();
    key = want;
  }
  return *kept;
}

void bm_train_step(benchmark::State& state, std::string preset, Numerics num, long micro_batches) {
  Trainer& tr = trainer_for(preset, num, micro_batches);
  const parity::ModelConfig& m = tr.m;
  float loss = 0.0f;
  for (auto _ : state) {
    loss = tr.step();
    benchmark::DoNotOptimize(loss);
    benchmark::ClobberMemory();
  }
  const double it = double(state.iterations()), tokens = double(tr.tokens());
  state.counters["tokens/s"] = benchmark::Counter(tokens * it, benchmark::Counter::kIsRate);
  state.counters["MFU"] =
      benchmark::Counter(m.flops_per_token() * tokens * it / (g_peak_gflops * 1e9), benchmark::Counter::kIsRate);
  state.counters["loss"] = loss;
  char label[96];
  std::snprintf(label, sizeof label, "%.1f MFLOP/token, %ld tokens/step, MFU vs %.0f GFLOP/s",
                m.flops_per_token() * 1e-6, tr.tokens(), g_peak_gflops);
  state.SetLabel(label);
}

struct Entry {
  std::string preset;
  Numerics num;
};
std::vector<std::pair<std::string, Entry>> g_registered;

void register_all() {
  for (const char* preset : {"tiny", "small"})
    for (Numerics num : {Numerics::exact, Numerics::fast}) {
      const long micro_batches = 1;
      const std::string name = std::string("train_step/") + preset + "/" +
                               (num == Numerics::exact ? "exact" : "fast") + "/b" + std::to_string(kSeqs) + "_m" +
                               std::to_string(micro_batches);
      // tiny: ~30 ms a step; small: 0.45-0.6 s of CPU, so a one-step trial, then 3 repetitions of 3-4 steps:
      // each small benchmark takes ~8 s (plus ~2 s of setup) with 3 repetitions, under 20 s.
      const double min_time = std::string(preset) == "small" ? 1.5 : 1.0;
      benchmark::RegisterBenchmark(name.c_str(), bm_train_step, std::string(preset), num, micro_batches)
          ->Unit(benchmark::kMillisecond)
          ->MinTime(min_time);
      g_registered.push_back({name, {preset, num}});
    }
}

// Colour only on a terminal (a custom ConsoleReporter does not see --benchmark_color, and defaults to colour).
class Reporter : public benchmark::ConsoleReporter {
 public:
  Reporter() : ConsoleReporter(isatty(fileno(stdout)) ? OO_ColorTabular : OO_Tabular) {}
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      const bool median = r.run_type == Run::RT_Aggregate && r.aggregate_name == "median";
      if (!median && r.run_type != Run::RT_Iteration) continue;
      auto get = [&](const char* k) {
        const auto it = r.counters.find(k);
        return it == r.counters.end() ? 0.0 : it->second.value;
      };
      (median ? median_ : last_)[r.run_name.function_name] = {get("tokens/s"), get("MFU"), r.GetAdjustedCPUTime()};
    }
  }
  // tokens/s, MFU, ms per step; null if the benchmark did not run (filtered out).
  const std::tuple<double, double, double>* find(const std::string& name) const {
    for (const auto* m : {&median_, &last_}) {
      const auto it = m->find(name);
      if (it != m->end()) return &it->second;
    }
    return nullptr;
  }

 private:
  std::map<std::string, std::tuple<double, double, double>> median_, last_;
};

void print_summary(const Reporter& rep) {
  std::printf("\nMFU against %.0f GFLOP/s (one core); CPU-time rates, medians if repeated\n", g_peak_gflops);
  std::printf("%-28s %10s %10s %8s\n", "step", "ms/step", "tokens/s", "MFU");
  std::map<std::string, double> exact_tps;
  for (const auto& [name, e] : g_registered) {
    const auto* r = rep.find(name);
    if (!r) continue;
    const auto [tps, mfu, ms] = *r;
    std::printf("%-28s %10.1f %10.0f %7.2f%%", name.c_str(), ms, tps, 100.0 * mfu);
    if (e.num == Numerics::exact) exact_tps[e.preset] = tps;
    const auto it = exact_tps.find(e.preset);
    if (e.num == Numerics::fast && it != exact_tps.end() && it->second > 0.0)
      std::printf("   fast/exact %.2fx", tps / it->second);
    std::printf("\n");
  }
}

}  // namespace

int main(int argc, char** argv) {
  Kokkos::initialize(argc, argv);
  // Threads per process as `parity train --threads` sets them (layer loops and BLAS): PARITY_THREADS, default 1,
  // so that fast mode's BLAS does not take every core on its own.
  const char* threads = std::getenv("PARITY_THREADS");
  parity::set_host_threads(threads ? std::atoi(threads) : 1);
  register_all();
  benchmark::Initialize(&argc, argv);
  const bool bad_args = benchmark::ReportUnrecognizedArguments(argc, argv);
  if (!bad_args) {
    Reporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    g_kept.reset();
    print_summary(reporter);
  }
  benchmark::Shutdown();
  Kokkos::finalize();
  return bad_args ? 1 : 0;
}
