// `parity sweep SPEC.toml --out FILE.h5`: every layout of a grid against its single-device baseline.
#include <memory>

#include "harness/commands.hpp"
#include "harness/launcher.hpp"
#include "harness/sweep.hpp"

namespace parity::cli {

Command add_sweep(CLI::App& parent) {
  // The environment before MPI_Init: the runs' mpiexec must not inherit this process's singleton variables.
  sweep::snapshot_environment();
  auto o = std::make_shared<sweep::SweepOptions>();
  CLI::App* app = parent.add_subcommand(
      "sweep", "run every layout of a spec's grid, compare each with its single-device baseline, write one HDF5 file");
  app->add_option("spec", o->spec, "sweep specification (TOML; see docs/sweeps.md, suites/ci.toml)")->required();
  app->add_option("--out", o->out, "the merged result file (HDF5, written atomically after every run)")->required();
  app->add_option("--launcher", o->launcher, "local (mpiexec here), slurm (sbatch per run) or print (show the commands)")
      ->check(CLI::IsMember({"local", "slurm", "print"}))
      ->capture_default_str();
  app->add_flag("--oversubscribe", o->oversubscribe,
                "more ranks than cores (local: mpiexec --oversubscribe, also done when ranks > cores; slurm: --overcommit)");
  app->add_flag("--resume", o->resume, "keep the runs already in --out and run only the missing ones");
  app->add_flag("--retry-failed", o->retry_failed, "with --resume: also run again the runs that crashed or timed out");
  app->add_option("--timeout", o->timeout, "seconds a run may take before its processes are killed (0: no limit)")
      ->capture_default_str();
  app->add_option("--max-ranks", o->max_ranks, "skip layouts with more ranks than this")->capture_default_str();
  app->add_option("--parity", o->parity, "the parity binary the runs use (default: this one)");
  app->add_option("--mpiexec", o->mpiexec, "the MPI launcher for --launcher local")->capture_default_str();
  app->add_option("--work-dir", o->work_dir, "directory of the per-run directories (default: OUT without .h5 + .runs)");
  app->add_option("--slurm-template", o->slurm_template,
                  "Slurm job script template (default: the shipped harness/slurm-job.sh.in; copy and edit it)");
  app->add_flag("--keep-runs", o->keep_runs, "keep every run directory (default: only those of failed runs and baselines)");
  return {app, [o, app]() {
            o->command_line = "parity sweep " + o->spec + " --out " + o->out + " --launcher " + o->launcher +
                              (o->oversubscribe ? " --oversubscribe" : "") + (o->resume ? " --resume" : "") +
                              (o->timeout > 0 ? " --timeout " + std::to_string(o->timeout) : "");
            return sweep::run_sweep(*o);
          }};
}

}  // namespace parity::cli
