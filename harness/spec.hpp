// Sweep specifications (TOML) and their expansion into runs: the input side of `parity sweep`.
//
// A spec names one run definition (model, data, steps, seeds, micro-batch count and size, optimizer
// settings: anything `parity train` takes) and a [grid] of layouts. The expansion is the cartesian product of
// the grid's lists, minus the layouts that cannot run (recorded as skipped, with the reason phrased by the
// trainer's own validation), with duplicates merged (a schedule has no effect with pp = 1, ZeRO-1 none with
// dp = 1), plus one single-device exact baseline per (precision, micro-batch count, seed) that every layout is
// compared with. docs/sweeps.md describes the format; suites/ci.toml is an example.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "reference/train_config.hpp"

namespace parity::sweep {

// One entry of [grid].layouts, e.g. "dp2-tp2-pp2-gpipe-z1": fixes the axes it names; the others take the
// grid's lists. 0 / empty = not named.
struct LayoutPattern {
  std::string text;
  int dp = 0, tp = 0, pp = 0, zero = -1;
  std::optional<ScheduleKind> schedule;
  long line = 0;
};

struct Grid {
  std::vector<int> dp{1}, tp{1}, pp{1}, zero{0};
  std::vector<Precision> precision{Precision::fp32};
  std::vector<Numerics> numerics{Numerics::exact};
  std::vector<ScheduleKind> schedule{ScheduleKind::one_f_one_b};
  // "strong": every layout runs micro_batches micro-batches (fixed global batch); "weak": micro_batches per
  // data-parallel rank (the global batch grows with dp).
  std::vector<std::string> batch{"strong"};
  std::vector<LayoutPattern> layouts;
};

struct Spec {
  std::string path;  // as given (for messages)
  std::string text;  // the file's contents, stored in the merged result file
  std::string name, description;
  TrainConfig base;  // model, data, steps, m, b, optimizer; layout fields are set per run
  std::vector<uint64_t> seeds{1};
  // Largest relative per-step loss difference of a fast layout from the exact baseline: one number, or one
  // per precision (fast_loss_bound = { fp32 = 1e-4, bf16 = 1e-3 }), or "derived": steps x the per-step loss
  // bound of docs/numerics.md (reference/numerics_bound.hpp) for the run's model, b and precision.
  double fast_loss_bound = 1e-4;
  std::map<Precision, double> fast_loss_bound_by_precision;
  bool derived_bound = false;
  std::vector<std::string> extra_args;                               // appended to every run's train args
  std::map<std::string, std::vector<std::string>> extra_args_by_run;  // run id (with or without -s<seed>)
  Grid grid;
  std::map<std::string, long> lines;  // "grid.tp" -> line of the key, for messages
};

// Parses a spec; throws parity::Error "PATH:LINE: ..." naming the key for syntax errors, unknown keys, type
// errors, bad values and a missing model. Does not check that the grid can run (expand does).
Spec parse_spec(const std::string& text, const std::string& path);
Spec parse_spec_file(const std::string& path);

struct RunDef {
  std::string id;           // unique in the sweep: the trainer's run id [+ "-m<m>" for weak scaling] + "-s<seed>"
  std::string train_id;     // the trainer's run id (the group name in the run's own results file)
  TrainConfig config;       // no output paths
  bool baseline = false;    // the single-device exact run the others are compared with
  std::string baseline_id;  // id of this run's baseline (its own id for a baseline)
  double bound = 0;         // 0: must be bitwise (exact); else the relative per-step loss bound (fast)

  std::vector<std::string> extra_args;
  int ranks() const { return config.dp * config.tp * config.pp; }
};

struct SkippedRun {
  std::string id;
  TrainConfig config;
  std::string reason;
};

struct Expansion {
  std::vector<RunDef> runs;  // baselines first, then the layouts in grid order
  std::vector<SkippedRun> skipped;
  long merged_duplicates = 0;  // grid points that are the same run as another (schedule at pp=1, zero at dp=1)
};

struct ExpandOptions {
  int max_ranks = 8;
};

// Expands the grid. Throws parity::Error naming the key (and line) when a grid value can never run (every
// layout with it is refused by the trainer's validation, e.g. tp = 3 with 4 heads), when a baseline cannot
// run, or when extra_args_by_run names no run of the grid.
Expansion expand(const Spec& spec, const ExpandOptions& opt = {});

// The relative per-step loss bound of a fast-numerics run of configuration `c` under spec `s`.
double fast_bound(const Spec& s, const TrainConfig& c);

// `parity train` arguments (after "train") of a run, without output paths: the run definition's fields
// (reference/run_definition.hpp), then the run's extra arguments, which replace a field they set.
std::vector<std::string> train_args(const RunDef& r);

}  // namespace parity::sweep
