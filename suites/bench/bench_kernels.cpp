// Throughput of every non-GEMM kernel, forward and backward, at the `tiny` and `small` model shapes (b = 4
// sequences per micro-batch, so N = 4*T rows), plus the canonical-order primitives (column_sums,
// canonical_sum, canonical_dot) at the shapes the kernels use them. Run single-threaded:
//   OPENBLAS_NUM_THREADS=1 build/kernels/bench/bench_kernels \
//       --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
// Each benchmark reports
//   bytes_per_second  the kernel's compulsory traffic (each fp32 input read once, each output written once,
//                     read-modify-write counted twice) per CPU second (the table prints it in GiB/s, the
//                     summary in GB/s = 1e9 B/s, the unit of the ceiling);
//   GFLOP/s           an arithmetic count (tanh/exp/sqrt/div counted as one flop each) per CPU second;
//   of_ceiling        the fraction of this machine's ceiling it reaches (a rate counter, so the table
//                     prints it with "/s"): memory-bound kernels against kPeakGBs, compute-bound ones
//                     (attention) against kPeakGFlops. The label names which.
// The working sets of the `tiny` kernels (and several `small` ones) fit in cache, so memory-bound
// fractions above 1 are possible there: the ceiling is DRAM's, not the cache's.
// After the usual table, prints a summary (median over repetitions when there are repetitions).
#include <Kokkos_Core.hpp>
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <string>
#include <unistd.h>
#include <vector>

#include "kernels/adamw.hpp"
#include "kernels/attention.hpp"
#include "kernels/bench/ceilings.hpp"
#include "kernels/canonical.hpp"
#include "kernels/crossentropy.hpp"
#include "kernels/encoder.hpp"
#include "kernels/gelu.hpp"
#include "kernels/layernorm.hpp"
#include "kernels/vmath.hpp"
#include "reference/model_config.hpp"
#include "reference/params.hpp"

namespace {

// Ceilings of one core of the build machine (kernels/bench/ceilings.hpp, the project's recorded figures):
// fp32 FMA peak per core, memory triad on one core. Override with the environment variables
// PARITY_PEAK_GFLOPS and PARITY_PEAK_GBS (e.g. on another machine, or against 2 cores).
constexpr double kPeakGFlops = parity::bench::kFp32PeakFlopsPerCore * 1e-9;
constexpr double kPeakGBs = parity::bench::kTriadBytesPerCore * 1e-9;

double env_or(const char* name, double fallback) {
  const char* s = std::getenv(name);
  if (!s || !*s) return fallback;
  char* end = nullptr;
  const double v = std::strtod(s, &end);
  return (end != s && v > 0.0) ? v : fallback;
}
const double g_peak_gflops = env_or("PARITY_PEAK_GFLOPS", kPeakGFlops);
const double g_peak_gbs = env_or("PARITY_PEAK_GBS", kPeakGBs);

constexpr long kSeqs = 4;  // b: sequences per micro-batch
constexpr double kF = sizeof(float);

enum class Bound { memory, compute };

// Bytes and flops of one call.
struct Work {
  double bytes, flops;
  Bound bound;
};

void report(benchmark::State& state, const Work& w) {
  const double it = double(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(w.bytes * it));
  state.counters["GFLOP/s"] = benchmark::Counter(1e-9 * w.flops * it, benchmark::Counter::kIsRate);
  // Seconds the call would take at the ceiling, per second taken: the fraction of the ceiling reached.
  const double ideal = w.bound == Bound::memory ? w.bytes / (g_peak_gbs * 1e9) : w.flops / (g_peak_gflops * 1e9);
  state.counters["of_ceiling"] = benchmark::Counter(ideal * it, benchmark::Counter::kIsRate);
  char label[64];
  if (w.bound == Bound::memory)
    std::snprintf(label, sizeof label, "mem, vs %.0f GB/s", g_peak_gbs);
  else
    std::snprintf(label, sizeof label, "flops, vs %.0f GFLOP/s", g_peak_gflops);
  state.SetLabel(label);
}

std::vector<float> random_vector(long n, unsigned seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

std::vector<int32_t> random_tokens(long n, long V, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int32_t> dist(0, static_cast<int32_t>(V - 1));
  std::vector<int32_t> v(n);
  for (int32_t& x : v) x = dist(gen);
  return v;
}

// A model preset with b = kSeqs sequences per micro-batch.
struct Shape {
  std::string name;
  parity::ModelConfig m;
  long N() const { return kSeqs * m.T; }
};

void sink(const void* p) {
  benchmark::DoNotOptimize(p);
  benchmark::ClobberMemory();
}

// ---------------------------------------------------------------------------------------------- layernorm

void bm_layernorm_fwd(benchmark::State& state, Shape s) {
  const long N = s.N(), C = s.m.C;
  const auto inp = random_vector(N * C, 1), w = random_vector(C, 2, 0.5f, 1.5f), b = random_vector(C, 3);
  std::vector<float> out(N * C), mean(N), rstd(N);
  for (auto _ : state) {
    parity::layernorm_forward(out.data(), mean.data(), rstd.data(), inp.data(), w.data(), b.data(), N, C);
    sink(out.data());
  }
  // mean C, variance 3C, normalise 4C per row.
  report(state, {kF * (2.0 * N * C + 2.0 * C + 2.0 * N), 8.0 * N * C, Bound::memory});
}

void bm_layernorm_bwd(benchmark::State& state, Shape s) {
  const long N = s.N(), C = s.m.C;
  const auto inp = random_vector(N * C, 1), w = random_vector(C, 2, 0.5f, 1.5f), b = random_vector(C, 3);
  const auto dout = random_vector(N * C, 4);
  std::vector<float> out(N * C), mean(N), rstd(N), dinp(N * C, 0.0f), dw(C), db(C);
  parity::layernorm_forward(out.data(), mean.data(), rstd.data(), inp.data(), w.data(), b.data(), N, C);
  for (auto _ : state) {
    parity::layernorm_backward(dinp.data(), dw.data(), db.data(), dout.data(), inp.data(), w.data(), mean.data(),
                               rstd.data(), N, C);
    sink(dinp.data());
  }
  // Reads dout, inp; dinp read and written; weight, mean, rstd read; dweight, dbias written.
  // dweight 4, dbias 1, norm 2, dnorm 1, their mean 1, dot 2, dx 5 flops per element.
  report(state, {kF * (4.0 * N * C + 3.0 * C + 2.0 * N), 16.0 * N * C, Bound::memory});
}

// ---------------------------------------------------------------------------------------------- attention

// Flops: q.k and att.v, 2*hs each per causal pair, T(T+1)/2 pairs per head (≈ 4*S*H*T*T/2*hs for T ≫ 1);
// the softmax's few flops per pair are left out.
double attention_pairs(const Shape& s) { return double(kSeqs) * s.m.H * s.m.T * (s.m.T + 1) / 2.0; }

void bm_attention_fwd(benchmark::State& state, Shape s, parity::Numerics num) {
  const long T = s.m.T, H = s.m.H, hs = s.m.hs(), N = s.N(), C = s.m.C;
  const auto qkv = random_vector(N * 3 * C, 1);
  std::vector<float> out(N * C), att(kSeqs * H * T * T);
  for (auto _ : state) {
    parity::attention_forward(out.data(), att.data(), qkv.data(), kSeqs, T, H, hs, num);
    sink(out.data());
  }
  report(state, {kF * (3.0 * N * C + double(kSeqs) * H * T * T + N * C), 4.0 * hs * attention_pairs(s),
                 Bound::compute});
}

void bm_attention_bwd(benchmark::State& state, Shape s, parity::Numerics num) {
  const long T = s.m.T, H = s.m.H, hs = s.m.hs(), N = s.N(), C = s.m.C;
  const auto qkv = random_vector(N * 3 * C, 1), dout = random_vector(N * C, 2);
  std::vector<float> out(N * C), att(kSeqs * H * T * T), dqkv(N * 3 * C);
  parity::attention_forward(out.data(), att.data(), qkv.data(), kSeqs, T, H, hs);
  for (auto _ : state) {
    parity::attention_backward(dqkv.data(), dout.data(), qkv.data(), att.data(), kSeqs, T, H, hs, num);
    sink(dqkv.data());
  }
  // datt = dout.v, dq, dk, dv: 2*hs each per causal pair (twice the forward).
  report(state, {kF * (N * C + 3.0 * N * C + double(kSeqs) * H * T * T + 3.0 * N * C), 8.0 * hs * attention_pairs(s),
                 Bound::compute});
}

// ------------------------------------------------------------------------------------------------- fused

// bias + GELU against its three separate passes (bias add, GELU, fp32 so no rounding passes), same bits.
void bm_bias_gelu_fwd(benchmark::State& state, Shape s, bool fused) {
  const long N = s.N(), O = 4 * s.m.C, n = N * O;
  const auto x = random_vector(n, 1, -3.0f, 3.0f), bias = random_vector(O, 2);
  std::vector<float> pre(n), out(n), th(n);
  for (auto _ : state) {
    std::copy(x.begin(), x.end(), pre.begin());  // the GEMM's output, as the stage hands it over
    if (fused) {
      parity::bias_gelu_forward(out.data(), th.data(), pre.data(), bias.data(), N, O, parity::Precision::fp32);
    } else {
      for (long r = 0; r < N; ++r)
        for (long o = 0; o < O; ++o) pre[r * O + o] = pre[r * O + o] + bias[o];
      parity::gelu_forward(out.data(), th.data(), pre.data(), n);
    }
    sink(out.data());
  }
  // copy (read + write), pre read-modify-write, out and tanh written: 6 passes fused, 7 separate.
  report(state, {kF * 6.0 * n, 10.0 * n, Bound::memory});
}

// residual (+ bias) + LayerNorm against the separate passes.
void bm_residual_layernorm_fwd(benchmark::State& state, Shape s, bool fused) {
  const long N = s.N(), C = s.m.C;
  const auto proj = random_vector(N * C, 1), x = random_vector(N * C, 2), pb = random_vector(C, 3);
  const auto w = random_vector(C, 4, 0.5f, 1.5f), b = random_vector(C, 5);
  std::vector<float> res(N * C), out(N * C), mean(N), rstd(N);
  for (auto _ : state) {
    std::copy(proj.begin(), proj.end(), res.begin());
    if (fused) {
      parity::residual_layernorm_forward(out.data(), mean.data(), rstd.data(), res.data(), x.data(), pb.data(),
                                         w.data(), b.data(), N, C, parity::Precision::fp32);
    } else {
      // the stage's former residual_join: bias pass, residual pass (its roundings are no-ops in fp32)
      for (long r = 0; r < N; ++r)
        for (long c = 0; c < C; ++c) res[r * C + c] = res[r * C + c] + pb[c];
      for (long i = 0; i < N * C; ++i) res[i] = x[i] + res[i];
      parity::layernorm_forward(out.data(), mean.data(), rstd.data(), res.data(), w.data(), b.data(), N, C);
    }
    sink(out.data());
  }
  report(state, {kF * 6.0 * N * C, 10.0 * N * C, Bound::memory});
}

// parity's own exp (kernels/vmath.hpp) against glibc's expf, one array pass.
void bm_exp(benchmark::State& state, bool own) {
  const long n = 1 << 16;  // in L2: the transcendental, not memory, is measured
  const auto x = random_vector(n, 1, -20.0f, 0.0f);
  std::vector<float> y(n);
  for (auto _ : state) {
    if (own) {
      parity::vm::exp_array(y.data(), x.data(), n);
    } else {
      for (long i = 0; i < n; ++i) y[i] = std::exp(x[i]);
    }
    sink(y.data());
  }
  state.counters["Gexp/s"] = benchmark::Counter(double(n) * double(state.iterations()) * 1e-9,
                                                benchmark::Counter::kIsRate);
}

// --------------------------------------------------------------------------------------------------- gelu

// As the model runs them: the forward keeps tanh for the backward, which then needs no transcendental.
// gelu_bwd_recompute is the backward without the saved tanh (th = null).
void bm_gelu_fwd(benchmark::State& state, Shape s) {
  const long n = s.N() * 4 * s.m.C;
  const auto inp = random_vector(n, 1, -3.0f, 3.0f);
  std::vector<float> out(n), th(n);
  for (auto _ : state) {
    parity::gelu_forward(out.data(), th.data(), inp.data(), n);
    sink(out.data());
  }
  // inp read, out and tanh written; x^3 2, kCube*, +x, *scale, tanh, 0.5*x*(1+t) 3: 9 flops.
  report(state, {kF * 3.0 * n, 9.0 * n, Bound::memory});
}

void bm_gelu_bwd(benchmark::State& state, Shape s, bool saved_tanh) {
  const long n = s.N() * 4 * s.m.C;
  const auto inp = random_vector(n, 1, -3.0f, 3.0f), dout = random_vector(n, 2);
  std::vector<float> dinp(n), out(n), th(n);
  parity::gelu_forward(out.data(), th.data(), inp.data(), n);
  for (auto _ : state) {
    parity::gelu_backward(dinp.data(), inp.data(), saved_tanh ? th.data() : nullptr, dout.data(), n);
    sink(dinp.data());
  }
  // inp, dout (and th) read, dinp written; sech2 2, local 10, dinp 1 flops (+6 to recompute tanh).
  if (saved_tanh)
    report(state, {kF * 4.0 * n, 13.0 * n, Bound::memory});
  else
    report(state, {kF * 3.0 * n, 19.0 * n, Bound::memory});
}

// ------------------------------------------------------------------------------------------- crossentropy
// Both run in place on their own output from the previous iteration (softmax of probabilities, and
// dlogits with dloss = 1 so that repeated calls neither grow nor decay into subnormals): the same work.

void bm_crossentropy_fwd(benchmark::State& state, Shape s) {
  const long N = s.N(), Vp = s.m.Vp(), V = s.m.V;
  auto logits = random_vector(N * Vp, 1, -4.0f, 4.0f);
  const auto targets = random_tokens(N, V, 2);
  std::vector<float> losses(N);
  for (auto _ : state) {
    parity::crossentropy_forward(losses.data(), logits.data(), targets.data(), N, Vp, 0, V);
    sink(losses.data());
  }
  // Logits read and written (probabilities) once, targets read, losses written.
  // max 1, subtract + exp 2, sum 1, normalise 1 flop per element.
  report(state, {kF * (2.0 * N * Vp + 2.0 * N), 5.0 * N * Vp, Bound::memory});
}

void bm_crossentropy_bwd(benchmark::State& state, Shape s) {
  const long N = s.N(), Vp = s.m.Vp(), V = s.m.V;
  auto probs = random_vector(N * Vp, 1, 0.0f, 1.0f / float(V));
  const auto targets = random_tokens(N, V, 2);
  for (auto _ : state) {
    parity::crossentropy_backward(probs.data(), targets.data(), N, Vp, 0, V, 1.0f);
    sink(probs.data());
  }
  report(state, {kF * (2.0 * N * Vp + N), 2.0 * N * Vp, Bound::memory});
}

// ------------------------------------------------------------------------------------------------ encoder

void bm_encoder_fwd(benchmark::State& state, Shape s) {
  const long N = s.N(), C = s.m.C, T = s.m.T, Vp = s.m.Vp();
  const auto wte = random_vector(Vp * C, 1), wpe = random_vector(T * C, 2);
  const auto tokens = random_tokens(N, s.m.V, 3);
  std::vector<float> out(N * C);
  for (auto _ : state) {
    parity::encoder_forward(out.data(), tokens.data(), wte.data(), wpe.data(), N, T, C, 0, Vp);
    sink(out.data());
  }
  // Tokens, N gathered rows of wte (counted per row: a repeated token is a cache hit, but the small
  // shape has few repeats), T rows of wpe, N rows written.
  report(state, {kF * (N + 2.0 * N * C + T * C), 1.0 * N * C, Bound::memory});
}

void bm_encoder_bwd(benchmark::State& state, Shape s) {
  const long N = s.N(), C = s.m.C, T = s.m.T, Vp = s.m.Vp();
  const auto dout = random_vector(N * C, 1);
  const auto tokens = random_tokens(N, s.m.V, 3);
  const double distinct = double(std::set<int32_t>(tokens.begin(), tokens.end()).size());
  std::vector<float> dwte(Vp * C, 0.0f), dwpe(T * C);
  for (auto _ : state) {
    parity::encoder_backward(dwte.data(), dwpe.data(), dout.data(), tokens.data(), N, T, C, 0, Vp);
    sink(dwte.data());
  }
  // dout and tokens read once, the present tokens' rows of dwte read and written, dwpe written.
  // One add per element for dwte and one for dwpe.
  report(state, {kF * (N * C + N + 2.0 * distinct * C + T * C), 2.0 * N * C, Bound::memory});
}

// -------------------------------------------------------------------------------------------------- adamw

void bm_adamw(benchmark::State& state, Shape s) {
  const long n = parity::ParamLayout(s.m).total();
  std::vector<float> w = random_vector(n, 1, -0.05f, 0.05f), m(n, 0.0f), v(n, 0.0f);
  const auto g = random_vector(n, 2, -0.01f, 0.01f);
  const parity::AdamWConfig cfg;
  long t = 0;
  for (auto _ : state) {
    parity::adamw_update(w.data(), m.data(), v.data(), g.data(), n, 3e-4f, cfg.weight_decay, 1.0f, ++t, cfg);
    sink(w.data());
  }
  state.counters["params"] = double(n);
  // w, m, v read and written, g read; about 17 flops per parameter.
  report(state, {kF * 7.0 * n, 17.0 * n, Bound::memory});
}

// ---------------------------------------------------------------------------------------------- canonical

// column_sums over the N rows of a [N, width] matrix: the bias and layernorm-weight gradients.
void bm_column_sums(benchmark::State& state, long rows, long width) {
  const auto x = random_vector(rows * width, 1);
  std::vector<float> out(width);
  for (auto _ : state) {
    parity::column_sums(x.data(), rows, width, width, out.data());
    sink(out.data());
  }
  report(state, {kF * (double(rows) * width + width), double(rows) * width, Bound::memory});
}

// One canonical_sum per row of a [rows, len] matrix: len = C as in layernorm, len = Vp as in crossentropy.
void bm_canonical_sum(benchmark::State& state, long rows, long len) {
  const auto x = random_vector(rows * len, 1);
  std::vector<float> out(rows);
  for (auto _ : state) {
    for (long r = 0; r < rows; ++r) out[r] = parity::canonical_sum(x.data() + r * len, len);
    sink(out.data());
  }
  report(state, {kF * (double(rows) * len + rows), double(rows) * len, Bound::memory});
}

// One canonical_dot per row pair: len = hs as in attention's q.k (one per row and head), len = C as in
// layernorm's backward.
void bm_canonical_dot(benchmark::State& state, long rows, long len) {
  const auto x = random_vector(rows * len, 1), y = random_vector(rows * len, 2);
  std::vector<float> out(rows);
  for (auto _ : state) {
    for (long r = 0; r < rows; ++r) out[r] = parity::canonical_dot(x.data() + r * len, y.data() + r * len, len);
    sink(out.data());
  }
  report(state, {kF * (2.0 * rows * len + rows), 2.0 * rows * len, Bound::memory});
}

// ----------------------------------------------------------------------------------------------- register

std::vector<std::string> g_order;  // registration order, for the summary
std::map<std::string, bool> g_memory_bound;

template <class F, class... Args>
void add(const std::string& name, Bound bound, F f, Args... args) {
  benchmark::RegisterBenchmark(name.c_str(), f, args...)->Unit(benchmark::kMicrosecond);
  g_order.push_back(name);
  g_memory_bound[name] = bound == Bound::memory;
}

void register_all() {
  benchmark::RegisterBenchmark("exp/parity_vm", bm_exp, true)->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("exp/glibc_expf", bm_exp, false)->Unit(benchmark::kMicrosecond);
  {  // fusion pays where the activations leave the caches: gpt2-124m's [4096, 3072] MLP activation is 50 MB
    const Shape big{"gpt2-124m", parity::model_preset("gpt2-124m")};
    add("bias_gelu_fwd_fused/gpt2-124m", Bound::memory, bm_bias_gelu_fwd, big, true);
    add("bias_gelu_fwd_separate/gpt2-124m", Bound::memory, bm_bias_gelu_fwd, big, false);
    add("residual_layernorm_fused/gpt2-124m", Bound::memory, bm_residual_layernorm_fwd, big, true);
    add("residual_layernorm_separate/gpt2-124m", Bound::memory, bm_residual_layernorm_fwd, big, false);
  }
  for (const char* preset : {"tiny", "small"}) {
    const Shape s{preset, parity::model_preset(preset)};
    const std::string sfx = std::string("/") + preset;
    add("layernorm_fwd" + sfx, Bound::memory, bm_layernorm_fwd, s);
    add("layernorm_bwd" + sfx, Bound::memory, bm_layernorm_bwd, s);
    add("attention_fwd" + sfx, Bound::compute, bm_attention_fwd, s, parity::Numerics::exact);
    add("attention_bwd" + sfx, Bound::compute, bm_attention_bwd, s, parity::Numerics::exact);
    add("attention_fwd_fast" + sfx, Bound::compute, bm_attention_fwd, s, parity::Numerics::fast);
    add("attention_bwd_fast" + sfx, Bound::compute, bm_attention_bwd, s, parity::Numerics::fast);
    add("bias_gelu_fwd_fused" + sfx, Bound::memory, bm_bias_gelu_fwd, s, true);
    add("bias_gelu_fwd_separate" + sfx, Bound::memory, bm_bias_gelu_fwd, s, false);
    add("residual_layernorm_fused" + sfx, Bound::memory, bm_residual_layernorm_fwd, s, true);
    add("residual_layernorm_separate" + sfx, Bound::memory, bm_residual_layernorm_fwd, s, false);
    add("gelu_fwd" + sfx, Bound::memory, bm_gelu_fwd, s);
    add("gelu_bwd" + sfx, Bound::memory, bm_gelu_bwd, s, true);
    add("gelu_bwd_recompute" + sfx, Bound::memory, bm_gelu_bwd, s, false);
    add("crossentropy_fwd" + sfx, Bound::memory, bm_crossentropy_fwd, s);
    add("crossentropy_bwd" + sfx, Bound::memory, bm_crossentropy_bwd, s);
    add("encoder_fwd" + sfx, Bound::memory, bm_encoder_fwd, s);
    add("encoder_bwd" + sfx, Bound::memory, bm_encoder_bwd, s);
    add("adamw" + sfx, Bound::memory, bm_adamw, s);
    const long N = s.N(), C = s.m.C;
    add("column_sums/" + std::to_string(N) + "x" + std::to_string(C), Bound::memory, bm_column_sums, N, C);
    add("column_sums/" + std::to_string(N) + "x" + std::to_string(4 * C), Bound::memory, bm_column_sums, N, 4 * C);
    add("canonical_sum/" + std::to_string(N) + "x" + std::to_string(C), Bound::memory, bm_canonical_sum, N, C);
    add("canonical_sum/" + std::to_string(N) + "x" + std::to_string(s.m.Vp()), Bound::memory, bm_canonical_sum, N,
        s.m.Vp());
    add("canonical_dot/" + std::to_string(N * s.m.H) + "x" + std::to_string(s.m.hs()), Bound::memory,
        bm_canonical_dot, N * s.m.H, s.m.hs());
    add("canonical_dot/" + std::to_string(N) + "x" + std::to_string(C), Bound::memory, bm_canonical_dot, N, C);
  }
}

// Console output as usual; each benchmark's counters kept for the summary (median aggregate if any, else the run).
// Colour only on a terminal (a custom ConsoleReporter does not see --benchmark_color, and defaults to colour).
class Reporter : public benchmark::ConsoleReporter {
 public:
  Reporter() : ConsoleReporter(isatty(fileno(stdout)) ? OO_ColorTabular : OO_Tabular) {}
  struct Row {
    double time_us = 0, gbs = 0, gflops = 0, frac = 0;
  };
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      const bool median = r.run_type == Run::RT_Aggregate && r.aggregate_name == "median";
      if (!median && r.run_type != Run::RT_Iteration) continue;
      Row row;
      row.time_us = r.GetAdjustedCPUTime();
      auto get = [&](const char* k) {
        const auto it = r.counters.find(k);
        return it == r.counters.end() ? 0.0 : it->second.value;
      };
      row.gbs = get("bytes_per_second") * 1e-9;
      row.gflops = get("GFLOP/s");
      row.frac = get("of_ceiling");
      (median ? median_ : last_)[r.run_name.function_name] = row;
    }
  }
  const Row* find(const std::string& name) const {
    for (const auto* m : {&median_, &last_}) {
      const auto it = m->find(name);
      if (it != m->end()) return &it->second;
    }
    return nullptr;
  }

 private:
  std::map<std::string, Row> median_, last_;
};

void print_summary(const Reporter& rep) {
  std::printf("\nceilings: %.0f GB/s (memory-bound), %.0f GFLOP/s (compute-bound); CPU-time rates, medians if repeated\n",
              g_peak_gbs, g_peak_gflops);
  std::printf("%-28s %12s %9s %9s %6s %10s\n", "kernel", "CPU us", "GB/s", "GFLOP/s", "bound", "of_ceiling");
  for (const std::string& name : g_order) {
    const Reporter::Row* r = rep.find(name);
    if (!r) continue;  // filtered out
    std::printf("%-28s %12.1f %9.2f %9.2f %6s %9.1f%%\n", name.c_str(), r->time_us, r->gbs, r->gflops,
                g_memory_bound[name] ? "mem" : "flops", 100.0 * r->frac);
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
