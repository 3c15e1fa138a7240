// Judging a finished run against its baseline with the engine of `parity compare` (docs/sweeps.md, "Running
// and judging"): exact numerics must be bitwise in the per-step loss and grad norm and in every checkpoint
// tensor; fast numerics must keep the per-step loss within the relative bound.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "harness/compare.hpp"
#include "harness/sweep.hpp"
#include "harness/sweep_record.hpp"
#include "kernels/error.hpp"
#include "reference/h5io.hpp"

namespace parity::sweep {
namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string fmt(double v) {
  if (std::isnan(v)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

// What is compared, read once: the run's and the baseline's per-step series and the checkpoints' difference.
struct Evidence {
  std::vector<float> loss, norm, bloss, bnorm;
  std::vector<int64_t> step;
  TensorDiff L, G;
  FileDiff F;
  // The 1-based step of index i (the file's step numbers where it has them).
  long step_at(long i) const {
    return i >= 0 && i < static_cast<long>(step.size()) ? static_cast<long>(step[i]) : i + 1;
  }
  bool bitwise() const { return L.bitwise() && G.bitwise() && F.bitwise(); }
};

// Exact: every bit of the per-step loss and grad norm and of the checkpoint.
Judgement judge_exact(const Evidence& e, Judgement v) {
  const bool bitwise = e.bitwise();
  v.verdict = bitwise ? Verdict::bitwise : Verdict::failed;
  v.max_abs = std::max({e.L.max_abs, e.G.max_abs, e.F.max_abs()});
  v.max_rel = std::max({e.L.max_rel, e.G.max_rel, e.F.max_rel()});
  if (bitwise) return v;
  long first = -1;
  for (const TensorDiff* d : {&e.L, &e.G})
    if (d->first_index >= 0 && (first < 0 || d->first_index < first)) first = d->first_index;
  v.first_diff_step = first >= 0 ? e.step_at(first) : -1;
  if (const TensorDiff* t = e.F.first_difference()) v.first_diff_tensor = t->name;
  else if (!e.F.only_in_a.empty()) v.first_diff_tensor = e.F.only_in_a.front();
  else if (!e.F.only_in_b.empty()) v.first_diff_tensor = e.F.only_in_b.front();
  else v.first_diff_tensor = !e.L.bitwise() ? "loss" : "grad_norm";
  if (first >= 0)
    v.note = std::string(!e.L.bitwise() && e.L.first_index == first ? "loss" : "grad norm") +
             " differs from the baseline at step " + std::to_string(v.first_diff_step);
  else
    v.note = "checkpoint differs from the baseline's in " + v.first_diff_tensor;
  if (!e.F.only_in_a.empty() || !e.F.only_in_b.empty()) v.note += " (the checkpoints hold different tensors)";
  return v;
}

// Fast: the per-step loss within the relative bound.
Judgement judge_fast(const Evidence& e, double bound, Judgement v) {
  v.max_abs = e.L.max_abs;
  v.max_rel = e.L.max_rel;
  if (e.bitwise()) {
    v.verdict = Verdict::bitwise;
    return v;
  }
  if (e.L.max_rel <= bound) {
    v.verdict = Verdict::within_bound;
    return v;
  }
  v.verdict = Verdict::failed;
  for (size_t i = 0; i < e.loss.size(); ++i) {
    const TensorDiff d = compare_arrays("loss", {e.bloss[i]}, {e.loss[i]});
    if (!(d.max_rel <= bound)) {
      v.first_diff_step = e.step_at(static_cast<long>(i));
      break;
    }
  }
  v.first_diff_tensor = "loss";
  v.note = "loss differs from the exact baseline by " + fmt(e.L.max_rel) + " (relative) at step " +
           std::to_string(v.first_diff_step) + ", more than the bound " + fmt(bound);
  return v;
}

Judgement different_lengths(size_t steps, size_t base_steps) {
  Judgement v;
  v.verdict = Verdict::failed;
  v.max_abs = v.max_rel = v.loss_max_abs = v.loss_max_rel = kNaN;
  v.first_diff_step = static_cast<long>(std::min(steps, base_steps)) + 1;
  v.first_diff_tensor = "loss";
  v.note = "ran " + std::to_string(steps) + " steps, the baseline " + std::to_string(base_steps);
  return v;
}

}  // namespace

Judgement judge(const std::string& results, const std::string& checkpoint, const std::string& base_results,
                const std::string& base_group, const std::string& base_checkpoint, double bound) {
  const H5Reader run(results), base(base_results);
  const std::string g = only_run_group(run);
  Evidence e;
  e.loss = run.read_float(g + "/loss");
  e.norm = run.read_float(g + "/grad_norm");
  e.step = run.read_int64(g + "/step");
  e.bloss = base.read_float(base_group + "/loss");
  e.bnorm = base.read_float(base_group + "/grad_norm");
  if (e.loss.size() != e.bloss.size()) return different_lengths(e.loss.size(), e.bloss.size());
  e.L = compare_arrays("loss", e.bloss, e.loss);
  e.G = compare_arrays("grad_norm", e.bnorm, e.norm);
  e.F = compare_files(base_checkpoint, checkpoint, "/");
  Judgement v;
  v.loss_max_abs = e.L.max_abs;
  v.loss_max_rel = e.L.max_rel;
  v.ckpt_max_abs = e.F.max_abs();
  v.ckpt_max_rel = e.F.max_rel();
  for (const auto& t : e.F.tensors) v.ckpt_max_ulp = std::max(v.ckpt_max_ulp, t.max_ulp);
  return bound == 0 ? judge_exact(e, v) : judge_fast(e, bound, v);
}

}  // namespace parity::sweep
