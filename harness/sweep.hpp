// `parity sweep`: expand a spec, run the baselines and every layout through a launcher, judge each run
// against its baseline (harness/compare.hpp), and merge everything into one HDF5 file (docs/sweeps.md).
#pragma once
#include <cstdint>
#include <string>

#include "harness/spec.hpp"
#include "harness/verdict.hpp"

namespace parity::sweep {

struct SweepOptions {
  std::string spec;                 // path of the TOML spec
  std::string out;                  // merged result file
  std::string launcher = "local";   // local | slurm | print
  std::string parity;               // the binary the runs use (default: this one)
  std::string mpiexec = "mpiexec";
  std::string work_dir;             // per-run directories (default: <out without .h5>.runs)
  std::string slurm_template;       // default: the shipped harness/slurm-job.sh.in
  bool oversubscribe = false;
  bool resume = false;              // keep the runs already in `out`, run the rest
  bool retry_failed = false;        // with resume: run again those that crashed or timed out
  bool keep_runs = false;           // keep every run directory (default: only those of failed runs)
  double timeout = 0;               // seconds per run, 0 = none
  int max_ranks = 8;
  std::string command_line;         // recorded in the file
};

// The verdict of one run against its baseline, and the differences it rests on.
struct Judgement {
  Verdict verdict = Verdict::none;  // bitwise | within_bound | failed (judge); baseline, crashed, timeout (the sweep)
  double max_abs = 0, max_rel = 0;  // see docs/sweeps.md: what the verdict is about
  double loss_max_abs = 0, loss_max_rel = 0;
  double ckpt_max_abs = 0, ckpt_max_rel = 0;
  int64_t ckpt_max_ulp = 0;
  long first_diff_step = -1;        // 1-based; -1 if none
  std::string first_diff_tensor;    // "" if none
  std::string note;                 // one line on why it failed
};

// Compares a finished run (its results and checkpoint files) with its baseline's. `bound` 0 = must be
// bitwise (exact); else the largest relative per-step loss difference (fast). Throws parity::Error when a
// file cannot be read.
Judgement judge(const std::string& results, const std::string& checkpoint, const std::string& base_results,
              const std::string& base_group, const std::string& base_checkpoint, double bound);

// Runs the sweep; returns the exit status (0: every run passed its verdict; 1: some run failed, crashed or
// timed out). Throws parity::Error on bad input (spec, files).
int run_sweep(const SweepOptions& o);

}  // namespace parity::sweep
