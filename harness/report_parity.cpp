// The parity table: one row per layout, one column per precision and numerics, each cell the verdict of the
// run against its single-device baseline (docs/reports.md, "The parity table"); and parity.csv, one row per run.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "harness/report.hpp"
#include "harness/report_format.hpp"
#include "harness/report_runs.hpp"

namespace parity::report {
namespace {

using sweep::Verdict;

std::string diff_summary(const Run& r) {
  std::string s;
  if (!std::isnan(r.max_abs_diff)) s += "abs " + g3(r.max_abs_diff);
  if (!std::isnan(r.max_rel_diff)) s += std::string(s.empty() ? "" : ", ") + "rel " + g3(r.max_rel_diff);
  return s;
}

std::string failed_cell(const Run& r) {
  std::string s = "**failed**";
  if (r.first_diff_step >= 0) s += " at step " + std::to_string(r.first_diff_step);
  if (!r.first_diff_tensor.empty()) s += ", " + r.first_diff_tensor;
  const std::string d = diff_summary(r);
  return d.empty() ? s : s + " (" + d + ")";
}

std::string within_bound_cell(const Run& r) {
  std::string d = diff_summary(r);
  if (!std::isnan(r.bound)) d += std::string(d.empty() ? "" : ", ") + "bound " + g3(r.bound);
  return d.empty() ? "within-bound" : "within-bound (" + d + ")";
}

std::string parity_cell(const Run& r) {
  switch (r.verdict) {
    case Verdict::within_bound: return within_bound_cell(r);
    case Verdict::failed: return failed_cell(r);
    case Verdict::crashed:
    case Verdict::timeout: return std::string("**") + to_string(r.verdict) + "**";
    case Verdict::none: return "—";
    default: return to_string(r.verdict);
  }
}

// The table's rows (the layout and whatever else varies) and, per row, one cell per column.
struct Grid {
  std::set<GroupKey> columns;  // precision / numerics in a fixed order
  std::vector<std::vector<std::string>> rows, cells;
};

std::vector<std::string> row_key(const Run& r, const Varying& var) {
  std::vector<std::string> k = {layout_label(r), std::to_string(r.ranks)};
  if (var.model) k.push_back(model_label(r));
  if (var.batch) k.push_back(batch_label(r));
  if (var.seed) k.push_back(std::to_string(r.seed));
  return k;
}

Grid grid_of(const std::vector<const Run*>& runs, const Varying& var) {
  Grid g;
  for (const Run* r : runs) g.columns.insert({"", r->precision, r->numerics});
  for (const Run* r : runs) {
    const std::vector<std::string> k = row_key(*r, var);
    const size_t row = std::find(g.rows.begin(), g.rows.end(), k) - g.rows.begin();
    if (row == g.rows.size()) {
      g.rows.push_back(k);
      g.cells.emplace_back(g.columns.size());
    }
    const size_t col = std::distance(g.columns.begin(), g.columns.find({"", r->precision, r->numerics}));
    std::string& cell = g.cells[row][col];
    cell += (cell.empty() ? "" : "<br>") + parity_cell(*r);
  }
  return g;
}

// "9 runs: 2 baselines, 3 bitwise, ...; 2 layouts skipped."
std::string count_line(const Sweep& s) {
  std::map<Verdict, int> count;
  for (const Run& r : s.runs) ++count[r.verdict];
  std::string parts;
  for (Verdict v : {Verdict::baseline, Verdict::bitwise, Verdict::within_bound, Verdict::failed, Verdict::crashed,
                    Verdict::timeout, Verdict::skipped, Verdict::none}) {
    const auto it = count.find(v);
    if (it == count.end()) continue;
    std::string word = v == Verdict::none ? "no verdict" : to_string(v);
    if (v == Verdict::baseline && it->second > 1) word = "baselines";
    parts += (parts.empty() ? "" : ", ") + std::to_string(it->second) + " " + word;
  }
  std::string o = std::to_string(s.runs.size()) + (s.runs.size() == 1 ? " run" : " runs");
  if (!parts.empty()) o += ": " + parts;
  if (s.format == "parity-results-1") o += " (a parity train results file: no baseline, no verdicts)";
  if (!s.skipped.empty())
    o += "; " + std::to_string(s.skipped.size()) + (s.skipped.size() == 1 ? " layout" : " layouts") + " skipped";
  return o + ".\n\n";
}

std::string table_of(const Grid& g, const Varying& var) {
  if (g.rows.empty()) return "";
  std::vector<std::string> head = {"layout", "ranks"};
  if (var.model) head.push_back("model");
  if (var.batch) head.push_back("m×b");
  if (var.seed) head.push_back("seed");
  for (const GroupKey& c : g.columns) head.push_back(c.precision + " " + c.numerics);
  std::vector<bool> right(head.size(), false);
  right[1] = true;
  std::string o = md_row(head) + md_rule(right);
  for (size_t i = 0; i < g.rows.size(); ++i) {
    std::vector<std::string> line = g.rows[i];
    for (const std::string& c : g.cells[i]) line.push_back(c.empty() ? "—" : c);
    o += md_row(line);
  }
  return o + "\nbitwise: every loss, gradient and parameter equals the baseline's bit for bit; within-bound: fast "
             "numerics, largest difference within the stated bound; abs / rel: largest absolute / relative "
             "difference.\n";
}

std::string skipped_list(const Sweep& s) {
  if (s.skipped.empty()) return "";
  std::string o = "\nSkipped layouts:\n\n" + md_row({"layout", "reason"}) + md_rule({false, false});
  for (const auto& [id, why] : s.skipped) o += md_row({id, why.empty() ? "—" : why});
  return o;
}

// The last 20 lines of a run's output, indented, in a fence the tail cannot close.
std::string fenced_tail(std::string tail) {
  while (!tail.empty() && tail.back() == '\n') tail.pop_back();
  size_t pos = tail.size(), lines = 0;
  while (pos > 0 && lines < 20) {
    pos = tail.rfind('\n', pos - 1);
    if (pos == std::string::npos) {
      pos = 0;
      break;
    }
    ++lines;
  }
  if (pos > 0) tail = tail.substr(pos + 1);
  std::string fence = "~~~";
  while (tail.find(fence) != std::string::npos) fence += "~";
  std::string o = "\n  " + fence + "\n";
  std::stringstream ss(tail);
  for (std::string line; std::getline(ss, line);) o += "  " + line + "\n";
  return o + "  " + fence + "\n";
}

std::string failure_entry(const Run& r) {
  std::string o = "\n- `" + r.id + "`: " + to_string(r.verdict);
  if (r.first_diff_step >= 0) o += " at step " + std::to_string(r.first_diff_step);
  if (!r.first_diff_tensor.empty()) o += ", first differing tensor " + r.first_diff_tensor;
  const std::string d = diff_summary(r);
  if (!d.empty()) o += "; largest difference " + d;
  if (!r.note.empty()) o += "; " + r.note;
  if (!r.baseline.empty()) o += " (baseline `" + r.baseline + "`)";
  o += "\n";
  if (!r.output_tail.empty()) o += fenced_tail(r.output_tail);
  return o;
}

std::string failures(const std::vector<const Run*>& runs) {
  std::string o;
  for (const Run* r : runs)
    if (sweep::is_failure(r->verdict)) o += failure_entry(*r);
  return o.empty() ? "" : "\nFailures:\n" + o;
}

std::vector<std::string> definition_fields(const Run& r) {
  return {r.id, std::to_string(r.dp), std::to_string(r.tp), std::to_string(r.pp),
          schedule_of(r).empty() ? "none" : schedule_of(r), std::to_string(r.zero), std::to_string(r.ranks),
          r.precision, r.numerics, r.model, csv_int(r.micro_batches), csv_int(r.micro_batch_size),
          csv_int(r.seed), csv_int(r.steps)};
}

std::string csv_run_row(const Run& r) {
  std::vector<std::string> f = definition_fields(r);
  // The file's two words: the parity attribute (crashed and timeout runs are "failed") and the status.
  const std::vector<std::string> verdict = {
      r.status, sweep::parity_attribute(r.verdict), r.baseline, csv_num(r.max_abs_diff), csv_num(r.max_rel_diff),
      csv_num(r.bound), r.first_diff_step >= 0 ? std::to_string(r.first_diff_step) : "", r.first_diff_tensor,
      r.note, ""};
  f.insert(f.end(), verdict.begin(), verdict.end());
  return csv_row(f);
}

std::string csv_skipped_row(const Sweep& s, const std::string& id, const std::string& why) {
  const auto it = std::find_if(s.skipped_runs.begin(), s.skipped_runs.end(), [&](const Run& r) { return r.id == id; });
  std::vector<std::string> f = it == s.skipped_runs.end() ? std::vector<std::string>{id} : definition_fields(*it);
  f.resize(14);
  const std::vector<std::string> rest = {"skipped", "skipped", "", "", "", "", "", "", "", why};
  f.insert(f.end(), rest.begin(), rest.end());
  return csv_row(f);
}

}  // namespace

std::string parity_markdown(const Sweep& s) {
  const Varying var = varying(s);
  std::vector<Run> all = s.runs;
  all.insert(all.end(), s.skipped_runs.begin(), s.skipped_runs.end());
  const std::vector<const Run*> runs = sorted_runs(all);
  return count_line(s) + table_of(grid_of(runs, var), var) + skipped_list(s) + failures(runs);
}

std::string parity_csv(const Sweep& s) {
  std::string o = csv_row({"run_id", "dp", "tp", "pp", "schedule", "zero", "ranks", "precision", "numerics", "model",
                           "micro_batches", "micro_batch_size", "seed", "steps", "status", "parity", "baseline",
                           "max_abs_diff", "max_rel_diff", "bound", "first_diff_step", "first_diff_tensor", "note",
                           "reason"});
  for (const Run* r : sorted_runs(s.runs)) o += csv_run_row(*r);
  for (const auto& [id, why] : s.skipped) o += csv_skipped_row(s, id, why);
  return o;
}

}  // namespace parity::report
