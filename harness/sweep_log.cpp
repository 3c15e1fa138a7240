#include "harness/sweep_log.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace parity::sweep {
namespace {

// The run's error lines ("parity: error: ..."; every rank may say the same), else its last lines.
std::vector<std::string> error_lines(const std::string& output_tail) {
  std::vector<std::string> lines, errors;
  std::stringstream ss(output_tail);
  for (std::string l; std::getline(ss, l);) {
    if (l.empty()) continue;
    lines.push_back(l);
    const bool error = l.find("parity: error") != std::string::npos || l.find("parity: internal error") != std::string::npos;
    if (error && std::find(errors.begin(), errors.end(), l) == errors.end()) errors.push_back(l);
  }
  if (errors.empty()) errors.assign(lines.end() - std::min<size_t>(lines.size(), 4), lines.end());
  return errors;
}

}  // namespace

std::string clock_text(double s) {
  if (!(s >= 0) || !std::isfinite(s)) return "?";
  const long t = static_cast<long>(s + 0.5);
  char buf[32];
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
  else
    std::snprintf(buf, sizeof buf, "%ld:%02ld", t / 60, t % 60);
  return buf;
}

std::string number_text(double v, const char* f) {
  if (std::isnan(v)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

void print_plan(const std::string& spec, const Expansion& x, const std::string& launcher) {
  long baselines = 0;
  for (const auto& r : x.runs) baselines += r.baseline;
  const std::string merged =
      x.merged_duplicates ? ", " + std::to_string(x.merged_duplicates) + " duplicate grid points merged" : "";
  std::printf("parity sweep: %s: %zu runs (%ld baseline%s, %zu layouts), %zu skipped%s; launcher %s\n", spec.c_str(),
              x.runs.size(), baselines, baselines == 1 ? "" : "s", x.runs.size() - baselines, x.skipped.size(),
              merged.c_str(), launcher.c_str());
  for (const auto& s : x.skipped) std::printf("  skipped %s: %s\n", s.id.c_str(), s.reason.c_str());
  std::fflush(stdout);
}

void print_commands(const Expansion& x, const Launcher& launcher, const std::vector<Job>& jobs) {
  for (size_t i = 0; i < x.runs.size(); ++i) {
    const RunDef& r = x.runs[i];
    const std::string against =
        r.baseline ? "baseline"
                   : "compared with " + r.baseline_id +
                         (r.bound > 0 ? " (bound " + number_text(r.bound) + ")" : std::string(" (bitwise)"));
    std::printf("# [%zu/%zu] %s: %d rank%s, %s\n", i + 1, x.runs.size(), r.id.c_str(), r.ranks(),
                r.ranks() == 1 ? "" : "s", against.c_str());
    std::printf("%s\n", launcher.command(jobs[i]).c_str());
  }
}

void print_start(size_t index, size_t total, const RunDef& r, double elapsed, double left) {
  std::printf("[%zu/%zu] %s: %d rank%s | elapsed %s | left ~%s\n", index, total, r.id.c_str(), r.ranks(),
              r.ranks() == 1 ? "" : "s", clock_text(elapsed).c_str(), clock_text(left).c_str());
  std::fflush(stdout);
}

void print_outcome(size_t index, size_t total, const RunDef& r, const Judgement& v, const JobResult& res) {
  std::string line = "[" + std::to_string(index) + "/" + std::to_string(total) + "] " + r.id + ": ";
  if (res.status != JobStatus::ok) line += "FAILED (" + std::string(to_string(res.status)) + ": " + v.note + ")";
  else if (v.verdict == Verdict::failed) line += "FAILED (" + v.note + ")";
  else if (v.verdict == Verdict::within_bound)
    line += "within-bound (loss rel. diff " + number_text(v.max_rel) + " <= " + number_text(r.bound) + ")";
  else line += to_string(v.verdict);
  std::printf("%s in %.1f s\n", line.c_str(), res.seconds);
  if (res.status != JobStatus::ok)
    for (const auto& l : error_lines(res.output_tail)) std::printf("    %s\n", l.c_str());
  std::fflush(stdout);
}

long print_summary(const Expansion& x, const std::vector<Record>& records, const std::string& out, double elapsed) {
  long n_bitwise = 0, n_within = 0, n_failed = 0, n_base = 0;
  std::printf("\n%-40s %5s  %-12s %-8s %10s %8s\n", "run", "ranks", "parity", "status", "max rel", "seconds");
  for (const auto& run : x.runs)  // in the spec's order
    for (const Record& rec : records) {
      if (rec.id != run.id) continue;
      std::printf("%-40s %5d  %-12s %-8s %10s %8s\n", rec.id.c_str(), rec.ranks, parity_attribute(rec.verdict),
                  rec.status.c_str(), rec.verdict == Verdict::baseline ? "" : number_text(rec.max_rel).c_str(),
                  number_text(rec.seconds, "%.1f").c_str());
      if (is_failure(rec.verdict) || rec.status != "ok") ++n_failed;
      else if (rec.verdict == Verdict::bitwise) ++n_bitwise;
      else if (rec.verdict == Verdict::within_bound) ++n_within;
      else if (rec.verdict == Verdict::baseline) ++n_base;
    }
  std::printf("\nparity sweep: %ld bitwise, %ld within bound, %ld failed, %ld baseline%s, %zu skipped -> %s (%s)\n",
              n_bitwise, n_within, n_failed, n_base, n_base == 1 ? "" : "s", x.skipped.size(), out.c_str(),
              clock_text(elapsed).c_str());
  return n_failed;
}

}  // namespace parity::sweep
