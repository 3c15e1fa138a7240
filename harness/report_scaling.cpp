// The scaling table: one table per precision, numerics and model, one row per run that finished, with the
// figures of report_figures.hpp (docs/reports.md, "The scaling table"); and scaling.csv at full precision.
#include <map>
#include <set>

#include "harness/report.hpp"
#include "harness/report_figures.hpp"
#include "harness/report_format.hpp"
#include "harness/report_runs.hpp"

namespace parity::report {
namespace {

std::string notes(const Peak& peak) {
  return "- tokens/s: median over the steps after the first (the first includes warm-up)\n"
         "- speed-up: against the 1-rank run of the same precision, numerics, model and batch; efficiency = "
         "speed-up / ranks\n"
         "- MFU = tokens/s · FLOPs/token / (peak · ranks), FLOPs/token = 6·N + 12·L·T·C with "
         "N = V·C + L·(12C² + 13C) + 2C (wpe not counted)\n"
         "- " + peak.note + "\n"
         "- comm: share of the step time spent inside collectives; idle: pipeline idle share (mean over stages) next "
         "to the theoretical bubble (p−1)/(m/dp+p−1) of m/dp micro-batches per pipeline, both as the trainer "
         "recorded them\n";
}

// "FLOPs/token 5.35 M; speed-up against `a`, `b`."
std::string group_caption(const Run& any, const std::vector<const Scaling*>& xs) {
  std::string o = "FLOPs/token " + fixed("%.4g", flops_per_token(any) / 1e6) + " M";
  std::set<std::string> bases;
  for (const Scaling* x : xs)
    if (x->base) bases.insert(x->base->id);
  if (bases.empty()) return o + "; no 1-rank run to measure speed-up against.\n\n";
  o += "; speed-up against ";
  bool first = true;
  for (const std::string& b : bases) {
    o += (first ? "`" : ", `") + b + "`";
    first = false;
  }
  return o + ".\n\n";
}

std::string header(const Varying& var) {
  std::vector<std::string> head = {"layout", "ranks", "m×b"};
  if (var.seed) head.push_back("seed");
  for (const char* h : {"tokens/s", "speed-up", "efficiency", "MFU", "comm", "idle", "bubble"}) head.push_back(h);
  std::vector<bool> right(head.size(), true);
  right[0] = false;
  right[2] = false;
  return md_row(head) + md_rule(right);
}

// A computed bubble of a pipelined run is marked: it is the report's figure, not the trainer's.
bool marked(const Scaling& x) { return x.bubble_computed && x.run->pp > 1; }

std::string row(const Scaling& x, const Varying& var) {
  const Run& r = *x.run;
  std::vector<std::string> line = {layout_label(r), std::to_string(r.ranks), batch_label(r)};
  if (var.seed) line.push_back(std::to_string(r.seed));
  line.push_back(fixed("%.0f", x.tps));
  line.push_back(fixed("%.2f", x.speedup));
  line.push_back(pct(x.efficiency));
  line.push_back(pct(x.mfu));
  line.push_back(pct(x.comm));
  line.push_back(pct(x.idle));
  line.push_back(pct(x.bubble) + (marked(x) ? "\\*" : ""));
  return md_row(line);
}

std::string group_table(const std::vector<const Scaling*>& xs, const Varying& var) {
  std::string o = header(var);
  bool any_marked = false;
  for (const Scaling* x : xs) {
    o += row(*x, var);
    any_marked = any_marked || marked(*x);
  }
  if (any_marked)
    o += "\n\\* bubble computed by the report as (p−1)/(m/dp+p−1): the file does not record the trainer's "
         "theoretical_bubble (written before it did).\n";
  return o;
}

std::string csv_stage_idle(const Run& r) {
  std::string o;
  for (double f : r.stage_idle) o += (o.empty() ? "" : ";") + csv_num(f);
  return o;
}

}  // namespace

std::string scaling_markdown(const Sweep& s, const Peak& peak) {
  const std::vector<Scaling> rows = scaling_rows(s, peak);
  const Varying var = varying(s);
  std::string o = notes(peak);
  if (rows.empty()) return o + "\nNo run has throughput data.\n";
  std::map<GroupKey, std::vector<const Scaling*>> groups;
  for (const Scaling& x : rows) groups[group_of(*x.run, var.model)].push_back(&x);
  for (const auto& [key, xs] : groups) {
    const Run& any = *xs.front()->run;
    o += "\n### " + key.precision + " " + key.numerics + ", " + model_label(any) + "\n\n";
    o += group_caption(any, xs) + group_table(xs, var);
  }
  return o;
}

std::string scaling_csv(const Sweep& s, const Peak& peak) {
  std::string o = csv_row({"run_id", "model", "precision", "numerics", "dp", "tp", "pp", "schedule", "zero", "ranks",
                           "micro_batches", "micro_batch_size", "seed", "measured_steps", "tokens_per_second",
                           "baseline_run", "speedup", "efficiency", "flops_per_token", "peak_gflops", "mfu",
                           "comm_share", "idle_share", "theoretical_bubble", "bubble_source", "stage_idle"});
  for (const Scaling& x : scaling_rows(s, peak)) {
    const Run& r = *x.run;
    o += csv_row({r.id, r.model, r.precision, r.numerics, std::to_string(r.dp), std::to_string(r.tp),
                  std::to_string(r.pp), schedule_of(r).empty() ? "none" : schedule_of(r), std::to_string(r.zero),
                  std::to_string(r.ranks), csv_int(r.micro_batches), csv_int(r.micro_batch_size), csv_int(r.seed),
                  std::to_string(x.measured_steps), csv_num(x.tps), x.base ? x.base->id : "", csv_num(x.speedup),
                  csv_num(x.efficiency), csv_num(x.flops), csv_num(x.peak), csv_num(x.mfu), csv_num(x.comm),
                  csv_num(x.idle), csv_num(x.bubble), x.bubble_computed ? "computed" : "recorded",
                  csv_stage_idle(r)});
  }
  return o;
}

}  // namespace parity::report
