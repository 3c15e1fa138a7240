// `parity report`: tables and plots from a merged sweep file (docs/reports.md). The loading and the table
// builders are separate from the command so that the sweep can print the parity table when it finishes.
//
// Where the pieces are: report_read.cpp (the file into a Sweep), report_parity.cpp (the parity table),
// report_figures.cpp (per-run figures: throughput, speed-up, MFU, comm, idle, bubble), report_peak.cpp (the
// peak MFU is measured against), report_scaling.cpp (the scaling table), report_plots.cpp (the SVG/PNG plots),
// report.cpp (the whole Markdown document).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "harness/verdict.hpp"

namespace parity::report {

// One run of a sweep: /runs/<id>. Attributes missing from the file keep the defaults below (strings empty,
// numbers -1 or NaN), so that a crashed run with half its attributes still appears in the tables.
struct Run {
  std::string id;
  int64_t dp = 1, tp = 1, pp = 1, zero = 0, ranks = 1;
  int64_t micro_batches = -1, micro_batch_size = -1, seed = -1, steps = -1;
  int64_t layers = -1, channels = -1, heads = -1, seq_len = -1, vocab = -1;
  std::string precision, numerics, schedule, model;
  // Verdict against the baseline (none / empty / NaN / -1 when the file holds none). `status` is the file's
  // word (ok, crashed, timeout; "skipped" for a skipped layout; "" when absent), printed as it is in parity.csv.
  sweep::Verdict verdict = sweep::Verdict::none;
  std::string baseline, first_diff_tensor, status, output_tail, note;
  double max_abs_diff, max_rel_diff, bound;
  int64_t first_diff_step = -1;
  // Pipeline figures the trainer recorded (NaN / empty in files written before it did): the theoretical bubble
  // (p-1)/(m/dp+p-1), the mean over stages of the share of the step a stage waited, and that share per stage.
  double theoretical_bubble, idle_fraction;
  std::vector<double> stage_idle;
  // The peak GFLOP/s per rank the trainer estimated for its machine, and how (NaN / "" when not recorded).
  double peak_gflops;
  std::string peak_source;
  // Per-step series (empty when absent).
  std::vector<double> step, loss, step_seconds, tokens_per_second, comm_seconds, idle_seconds;
  Run();
};

struct Sweep {
  std::string path;                               // as given
  std::string format;                             // parity-sweep-1 or parity-results-1
  std::vector<std::pair<std::string, std::string>> provenance;  // (label, value) in display order
  double peak_gflops;                             // root attribute (measured by the sweep), NaN when absent
  std::vector<Run> runs;                          // sorted by id
  std::vector<std::pair<std::string, std::string>> skipped;     // (id, reason), sorted by id
  // The skipped layouts whose groups carry the run definition (dp, tp, pp, ...): verdict skipped, status
  // "skipped", note = the reason. They get a cell in the parity table.
  std::vector<Run> skipped_runs;
};

// Reads a merged sweep file (format parity-sweep-1) or a single `parity train --results` file
// (parity-results-1, no verdicts). Throws parity::Error naming the file when it is neither.
Sweep load(const std::string& path);

// FLOPs per token of training (forward + backward): 6·N + 12·L·T·C with N = V·C + L·(12C² + 13C) + 2C
// (wpe not counted). NaN when a dimension is unknown.
double flops_per_token(const Run& r);

// Median of tokens/s over the steps after the first (the first includes warm-up); over all steps when
// there is only one. NaN when the run has none.
double median_tokens_per_second(const Run& r);

// The peak the MFU column is computed against and a sentence saying where it came from.
struct Peak {
  enum class Source {
    flag,      // --peak-gflops: one number for every run
    measured,  // the sweep measured it and stored it at the file's root: one number for every run
    recorded,  // each run's own peak_gflops, the trainer's estimate for the machine it ran on
    none,      // nothing known: MFU is not computed
  };
  Source source = Source::none;
  double gflops;  // flag and measured: the peak per rank; recorded and none: NaN (see peak_of)
  std::string note;
  Peak();
};
// `cli_gflops` > 0 wins, then the file's root peak_gflops, then the runs' recorded estimates; else none.
Peak choose_peak(const Sweep& s, double cli_gflops);
// The peak per rank (GFLOP/s) run r's MFU is computed against; NaN when there is none.
double peak_of(const Peak& p, const Run& r);

// The tables. Markdown bodies carry no top-level heading; the CSV texts start with a header row.
std::string parity_markdown(const Sweep& s);
std::string parity_csv(const Sweep& s);
std::string scaling_markdown(const Sweep& s, const Peak& peak);
std::string scaling_csv(const Sweep& s, const Peak& peak);
// The provenance as a Markdown bullet list.
std::string provenance_markdown(const Sweep& s);
// The whole report: title, provenance, parity and scaling sections.
std::string full_markdown(const Sweep& s, const Peak& peak);

// Writes loss-<key>.svg and scaling-<key>.svg (one per precision/numerics, and model when the sweep has
// several) into `dir`; with `png`, converts each to PNG as well (rsvg-convert, else ImageMagick's convert;
// parity::Error when neither works). Returns the paths written.
std::vector<std::string> write_plots(const Sweep& s, const std::string& dir, bool png);

}  // namespace parity::report
