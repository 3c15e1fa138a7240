#include "harness/report_figures.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "harness/report_runs.hpp"

namespace parity::report {
namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

// The window of steps throughput is measured over: all after the first (which includes warm-up), or the only one.
size_t first_measured(size_t n) { return n > 1 ? 1 : 0; }

double window_sum(const std::vector<double>& v, size_t from) {
  double s = 0;
  for (size_t i = from; i < v.size(); ++i) s += v[i];
  return s;
}

// The 1-rank run a run's throughput is measured against: same precision, numerics and model; then the same
// batch shape (m, b) (strong scaling); else a global batch of m·b/dp (weak scaling over DP); else the first
// 1-rank run by id.
const Run* scaling_baseline(const Sweep& s, const Run& r) {
  std::vector<const Run*> c;
  for (const Run& b : s.runs) {
    if (b.ranks == 1 && ran_ok(b) && b.precision == r.precision && b.numerics == r.numerics && same_model(b, r) &&
        !std::isnan(median_tokens_per_second(b)))
      c.push_back(&b);
  }
  if (c.empty()) return nullptr;
  for (const Run* b : c)
    if (b->micro_batches == r.micro_batches && b->micro_batch_size == r.micro_batch_size) return b;
  for (const Run* b : c)
    if (r.dp > 0 && b->micro_batches * b->micro_batch_size * r.dp == r.micro_batches * r.micro_batch_size) return b;
  return c.front();
}

// Σ comm_seconds / Σ step_seconds over the measured steps (rank 0).
double comm_share(const Run& r) {
  const size_t from = first_measured(r.step_seconds.size());
  const double total = window_sum(r.step_seconds, from);
  if (total > 0 && r.comm_seconds.size() == r.step_seconds.size()) return window_sum(r.comm_seconds, from) / total;
  return kNaN;
}

// The trainer's idle_fraction (mean over stages); else the mean of its per-stage stage_idle; else, for files
// older than both, rank 0's Σ idle_seconds / Σ step_seconds over the measured steps.
double idle_share(const Run& r) {
  if (!std::isnan(r.idle_fraction)) return r.idle_fraction;
  if (!r.stage_idle.empty()) return window_sum(r.stage_idle, 0) / static_cast<double>(r.stage_idle.size());
  const size_t from = first_measured(r.step_seconds.size());
  const double total = window_sum(r.step_seconds, from);
  if (total > 0 && r.idle_seconds.size() == r.step_seconds.size()) return window_sum(r.idle_seconds, from) / total;
  return kNaN;
}

// The trainer's theoretical_bubble as recorded; else computed with the trainer's formula, m/dp micro-batches.
void bubble_of(const Run& r, Scaling& x) {
  x.bubble = r.theoretical_bubble;
  if (!std::isnan(x.bubble) || r.micro_batches <= 0 || r.dp <= 0) return;
  x.bubble = theoretical_bubble(static_cast<double>(r.pp),
                                static_cast<double>(r.micro_batches) / static_cast<double>(r.dp));
  x.bubble_computed = true;
}

Scaling scaling_of(const Sweep& s, const Run& r, const Peak& peak) {
  Scaling x;
  x.run = &r;
  x.tps = median_tokens_per_second(r);
  x.measured_steps = static_cast<int>(r.tokens_per_second.size() - first_measured(r.tokens_per_second.size()));
  x.base = scaling_baseline(s, r);
  if (x.base) {
    x.speedup = x.tps / median_tokens_per_second(*x.base);
    x.efficiency = x.speedup / static_cast<double>(r.ranks);
  }
  x.flops = flops_per_token(r);
  x.peak = peak_of(peak, r);
  x.mfu = x.tps * x.flops / (x.peak * 1e9 * static_cast<double>(r.ranks));
  x.comm = comm_share(r);
  x.idle = idle_share(r);
  bubble_of(r, x);
  return x;
}

}  // namespace

Scaling::Scaling()
    : tps(kNaN), speedup(kNaN), efficiency(kNaN), flops(kNaN), peak(kNaN), mfu(kNaN), comm(kNaN), idle(kNaN),
      bubble(kNaN) {}

double theoretical_bubble(double pp, double m_local) {
  if (pp <= 1) return 0;
  return (pp - 1) / (m_local + pp - 1);
}

double flops_per_token(const Run& r) {
  if (r.layers <= 0 || r.channels <= 0 || r.seq_len <= 0 || r.vocab <= 0) return kNaN;
  const double L = static_cast<double>(r.layers), C = static_cast<double>(r.channels);
  const double T = static_cast<double>(r.seq_len), V = static_cast<double>(r.vocab);
  const double N = V * C + L * (12 * C * C + 13 * C) + 2 * C;
  return 6 * N + 12 * L * T * C;
}

double median_tokens_per_second(const Run& r) {
  std::vector<double> v;
  for (size_t i = first_measured(r.tokens_per_second.size()); i < r.tokens_per_second.size(); ++i)
    if (std::isfinite(r.tokens_per_second[i])) v.push_back(r.tokens_per_second[i]);
  if (v.empty()) return kNaN;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::vector<Scaling> scaling_rows(const Sweep& s, const Peak& peak) {
  std::vector<Scaling> out;
  for (const Run* r : sorted_runs(s.runs))
    if (ran_ok(*r) && !std::isnan(median_tokens_per_second(*r))) out.push_back(scaling_of(s, *r, peak));
  return out;
}

}  // namespace parity::report
