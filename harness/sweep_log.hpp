// What `parity sweep` prints while it runs: the plan, a line per run as it starts and as it ends (with the
// error lines of a run that failed), and the summary table at the end. Every line is flushed at once, so that
// a log followed with tail -f shows the sweep's progress.
#pragma once
#include <string>
#include <vector>

#include "harness/launcher.hpp"
#include "harness/spec.hpp"
#include "harness/sweep_record.hpp"

namespace parity::sweep {

// "1:02:03" or "2:03"; "?" when unknown.
std::string clock_text(double seconds);
// printf of one double, "-" when NaN.
std::string number_text(double v, const char* f = "%.3g");

// "parity sweep: SPEC: 12 runs (2 baselines, 10 layouts), 1 skipped; launcher local" and the skipped layouts.
void print_plan(const std::string& spec, const Expansion& x, const std::string& launcher);

// The print launcher's output: each run's command, preceded by a comment naming the run and its baseline.
void print_commands(const Expansion& x, const Launcher& launcher, const std::vector<Job>& jobs);

// "[3/12] dp2-tp1-pp1-fp32-exact-s1: 2 ranks | elapsed 0:12 | left ~0:40"
void print_start(size_t index, size_t total, const RunDef& r, double elapsed, double left);

// "[3/12] ID: bitwise in 4.2 s", or FAILED with the note, and for a run that did not finish its error lines.
void print_outcome(size_t index, size_t total, const RunDef& r, const Judgement& v, const JobResult& res);

// The table of this spec's runs and the counts; returns how many failed, crashed or timed out.
long print_summary(const Expansion& x, const std::vector<Record>& records, const std::string& out, double elapsed);

}  // namespace parity::sweep
