// `parity sweep`: the order of things (docs/sweeps.md). The baselines and then every layout run through the
// launcher one at a time; each is judged (sweep_judge.cpp), recorded (sweep_record.cpp) and the merged file
// rewritten whole after every run, so that an interrupted sweep leaves a complete file that --resume continues.
#include "harness/sweep.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>
#include <set>

#include "harness/launcher.hpp"
#include "harness/merge.hpp"
#include "harness/sweep_log.hpp"
#include "harness/sweep_record.hpp"
#include "kernels/error.hpp"
#include "reference/provenance.hpp"

namespace fs = std::filesystem;

namespace parity::sweep {
namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

// The sweep starts its runs itself; started by mpirun/srun as several ranks, each would run the whole sweep.
void refuse_under_mpirun() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"})
    if (std::getenv(v))
      throw Error(std::string("parity sweep starts its runs itself: run it as one process, not under mpirun or srun (") +
                  v + " is set)");
}

// The binary the runs use: --parity, else this one.
std::string parity_binary(const SweepOptions& o) {
  if (!o.parity.empty()) {
    if (access(o.parity.c_str(), X_OK) != 0) throw Error("--parity " + o.parity + " is not an executable file");
    return fs::absolute(o.parity).string();
  }
  char exe[4096];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) throw Error("cannot find this binary (/proc/self/exe); give --parity PATH");
  return std::string(exe, n);
}

// The merged file and the directory of the per-run directories (default: <out without .h5>.runs), absolute.
struct Paths {
  std::string out, work;
};
Paths paths_of(const SweepOptions& o) {
  if (o.out.empty()) throw Error("--out FILE.h5 is required");
  const fs::path out_abs = fs::absolute(o.out);
  if (!fs::is_directory(out_abs.parent_path()))
    throw Error("cannot write " + o.out + ": directory " + out_abs.parent_path().string() + " does not exist");
  std::string work = o.work_dir;
  if (work.empty()) {
    std::string stem = out_abs.string();
    if (stem.size() > 3 && stem.compare(stem.size() - 3, 3, ".h5") == 0) stem.resize(stem.size() - 3);
    work = stem + ".runs";
  }
  return {out_abs.string(), fs::absolute(work).string()};
}

// Root attributes of the merged file: the format, the sweep process's provenance, the spec and the options.
Attrs root_attrs(const Spec& spec, const SweepOptions& o, const std::string& launcher) {
  const Provenance prov = collect_provenance();
  return {{"format", std::string("parity-sweep-1")},
          {"git_revision", prov.git_revision},
          {"compiler", prov.compiler},
          {"kokkos_backend", prov.kokkos_backend},
          {"mpi_library", prov.mpi_library},
          {"hosts", prov.hosts},
          {"date", prov.date},
          {"spec", spec.text},
          {"spec_path", o.spec},
          {"spec_name", spec.name},
          {"launcher", launcher},
          {"command", o.command_line},
          {"max_ranks", int64_t(o.max_ranks)},
          {"timeout", o.timeout},
          {"fast_loss_bound", spec.derived_bound ? kNaN : spec.fast_loss_bound}};
}

std::vector<MergeGroup> skipped_groups(const Expansion& x) {
  std::vector<MergeGroup> groups;
  for (const auto& s : x.skipped) {
    MergeGroup g{"/skipped/" + s.id, "", "", definition_attrs(s.config)};
    g.attrs.push_back({"reason", s.reason});
    groups.push_back(g);
  }
  return groups;
}

// One sweep in progress: what is recorded so far, which baselines can be compared with, and the progress counts.
class Sweeper {
 public:
  Sweeper(const SweepOptions& o, const Spec& spec, const Expansion& x, Launcher& launcher, std::string parity_bin,
          Paths paths)
      : o_(o), spec_(spec), x_(x), launcher_(launcher), parity_bin_(std::move(parity_bin)), paths_(std::move(paths)),
        t_start_(std::chrono::steady_clock::now()) {}

  Job job_of(const RunDef& r) const {
    Job j;
    j.id = r.id;
    j.ranks = r.ranks();
    j.argv = {parity_bin_, "train"};
    const auto args = train_args(r);
    j.argv.insert(j.argv.end(), args.begin(), args.end());
    j.argv.insert(j.argv.end(), {"--results", "results.h5", "--checkpoint-out", "checkpoint.h5"});
    j.workdir = paths_.work + "/" + r.id;
    j.timeout_s = o_.timeout;
    return j;
  }

  // print: the commands, nothing run, nothing written.
  int print_only() const {
    std::vector<Job> jobs;
    for (const RunDef& r : x_.runs) jobs.push_back(job_of(r));
    print_commands(x_, launcher_, jobs);
    return 0;
  }

  int run() {
    load_previous();
    root_ = root_attrs(spec_, o_, launcher_.name());
    skipped_ = skipped_groups(x_);
    fs::create_directories(paths_.work);
    install_interrupt_handlers();
    run_all();
    const long failed = print_summary(x_, records_, o_.out, elapsed());
    finish(failed);
    return failed ? 1 : 0;
  }

 private:
  double elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start_).count();
  }

  // What the output file holds already (--resume), and which of its baselines completed.
  void load_previous() {
    if (o_.resume && fs::exists(paths_.out)) {
      Resumed r = resumed_records(paths_.out, o_.out, x_, o_.retry_failed);
      records_ = std::move(r.records);
      complete_ = std::move(r.complete);
      const size_t left = static_cast<size_t>(
          std::count_if(x_.runs.begin(), x_.runs.end(), [&](const RunDef& run) { return !complete_.count(run.id); }));
      std::printf("parity sweep: resuming %s: %zu runs done, %zu to run\n", o_.out.c_str(), complete_.size(), left);
    } else if (fs::exists(paths_.out)) {
      std::printf("parity sweep: %s exists and will be replaced (--resume continues it instead)\n", o_.out.c_str());
    }
    for (const RunDef& r : x_.runs) {
      if (!r.baseline || !complete_.count(r.id)) continue;
      const auto rec = std::find_if(records_.begin(), records_.end(), [&](const Record& x) { return x.id == r.id; });
      baseline_ok_[r.id] = rec->verdict == Verdict::baseline;
    }
  }

  void write_out() {
    std::vector<MergeGroup> groups;
    for (const auto& rec : records_) groups.push_back(rec.group);
    groups.insert(groups.end(), skipped_.begin(), skipped_.end());
    write_merged(paths_.out, root_, groups);
    for (auto& rec : records_) rec.group = {rec.group.path, paths_.out, rec.group.path, {}};  // now in `out`
  }

  void run_all() {
    std::vector<const RunDef*> todo;
    for (const auto& r : x_.runs)
      if (!complete_.count(r.id)) todo.push_back(&r);
    total_ = todo.size();
    for (const RunDef* r : todo) {
      if (!r->baseline && baseline_ok_[r->baseline_id] &&
          !fs::exists(paths_.work + "/" + r->baseline_id + "/checkpoint.h5")) {
        // Resumed: the baseline's result is in the file but its checkpoint is gone. It is deterministic: run it again.
        const auto base =
            std::find_if(x_.runs.begin(), x_.runs.end(), [&](const RunDef& b) { return b.id == r->baseline_id; });
        baseline_ok_[r->baseline_id] = rerun_baseline(*base);
      }
      execute(*r);
    }
    if (todo.empty()) write_out();  // nothing left to run: refresh the skipped groups and the root attributes
  }

  // Runs the job in a fresh directory; a run that exits 0 without its files has crashed.
  JobResult launch(const Job& job, const std::string& results, const std::string& ckpt) {
    std::error_code ec;
    fs::remove_all(job.workdir, ec);
    fs::create_directories(job.workdir);
    JobResult res = launcher_.run(job);
    if (const int sig = interrupted())
      throw Error("interrupted by signal " + std::to_string(sig) + " during run " + job.id + "; " +
                  std::to_string(done_) + " runs are recorded in " + o_.out + " (--resume continues the sweep)");
    if (res.status == JobStatus::ok && (!fs::exists(results) || !fs::exists(ckpt))) {
      res.status = JobStatus::crashed;
      res.output_tail +=
          "\nparity sweep: the run exited 0 but wrote no " + std::string(fs::exists(results) ? "checkpoint" : "results file");
    }
    return res;
  }

  // A baseline run again only for its checkpoint: not recorded (its result is in the file already).
  bool rerun_baseline(const RunDef& r) {
    std::printf("        %s: running the baseline again for its checkpoint (its run directory is gone)\n", r.id.c_str());
    std::fflush(stdout);
    const Job job = job_of(r);
    const JobResult res = launch(job, job.workdir + "/results.h5", job.workdir + "/checkpoint.h5");
    if (res.status != JobStatus::ok)
      std::printf("        %s: %s; its layouts cannot be compared\n", r.id.c_str(), to_string(res.status));
    return res.status == JobStatus::ok;
  }

  Judgement judgement_of(const RunDef& r, const JobResult& res, const std::string& results, const std::string& ckpt) {
    Judgement v;
    v.max_abs = v.max_rel = v.loss_max_abs = v.loss_max_rel = v.ckpt_max_abs = v.ckpt_max_rel = kNaN;
    if (res.status != JobStatus::ok) {
      v.verdict = res.status == JobStatus::timeout ? Verdict::timeout : Verdict::crashed;
      v.note = res.status == JobStatus::timeout
                   ? "ran past the timeout of " + number_text(o_.timeout, "%g") + " s and was killed"
                   : "exited with status " + std::to_string(res.exit_code);
      return v;
    }
    if (r.baseline) {
      v = Judgement{};
      v.verdict = Verdict::baseline;
      return v;
    }
    if (!baseline_ok_[r.baseline_id]) {
      v.verdict = Verdict::failed;
      v.note = "its baseline " + r.baseline_id + " did not complete";
      return v;
    }
    try {
      return judge(results, ckpt, paths_.out, "/runs/" + r.baseline_id,
                   paths_.work + "/" + r.baseline_id + "/checkpoint.h5", r.bound);
    } catch (const Error& e) {
      v = Judgement{};
      v.max_abs = v.max_rel = kNaN;
      v.verdict = Verdict::failed;
      v.note = std::string("cannot compare: ") + e.what();
      return v;
    }
  }

  // Runs, judges and records one run, and rewrites the merged file.
  void execute(const RunDef& r) {
    const Job job = job_of(r);
    const double left = done_ ? run_seconds_ / done_ * static_cast<double>(total_ - done_) : kNaN;
    print_start(done_ + 1, total_, r, elapsed(), left);
    const std::string results = job.workdir + "/results.h5", ckpt = job.workdir + "/checkpoint.h5";
    const JobResult res = launch(job, results, ckpt);
    ++done_;
    run_seconds_ += res.seconds;
    const Judgement v = judgement_of(r, res, results, ckpt);
    records_.push_back(finished_record(r, v, res, results, launcher_.name()));
    write_out();
    if (r.baseline) baseline_ok_[r.id] = res.status == JobStatus::ok;
    print_outcome(done_, total_, r, v, res);
    std::error_code ec;
    if (!is_failure(v.verdict) && !r.baseline && !o_.keep_runs) fs::remove_all(job.workdir, ec);
  }

  // The run directories go when everything passed; else they stay for inspection.
  void finish(long failed) {
    if (failed == 0 && !o_.keep_runs) {
      std::error_code ec;
      fs::remove_all(paths_.work, ec);
    } else if (failed > 0) {
      std::printf("parity sweep: the run directories of the failed runs and the baselines are kept under %s\n",
                  paths_.work.c_str());
    }
    std::fflush(stdout);
  }

  const SweepOptions& o_;
  const Spec& spec_;
  const Expansion& x_;
  Launcher& launcher_;
  const std::string parity_bin_;
  const Paths paths_;
  const std::chrono::steady_clock::time_point t_start_;
  Attrs root_;
  std::vector<MergeGroup> skipped_;
  std::vector<Record> records_;
  std::set<std::string> complete_;
  std::map<std::string, bool> baseline_ok_;  // baseline id -> results in `out` and checkpoint on disk
  size_t done_ = 0, total_ = 0;
  double run_seconds_ = 0;
};

}  // namespace

int run_sweep(const SweepOptions& o) {
  refuse_under_mpirun();
  const Spec spec = parse_spec_file(o.spec);
  ExpandOptions eo;
  eo.max_ranks = o.max_ranks;
  if (o.max_ranks < 1) throw Error("--max-ranks must be >= 1");
  if (o.timeout < 0) throw Error("--timeout must be >= 0 seconds");
  const Expansion x = expand(spec, eo);

  LauncherOptions lo;
  lo.mpiexec = o.mpiexec;
  lo.oversubscribe = o.oversubscribe;
  lo.slurm_template = o.slurm_template;
  std::unique_ptr<Launcher> launcher = make_launcher(o.launcher, lo);
  std::string parity_bin = parity_binary(o);
  Paths paths = paths_of(o);
  print_plan(o.spec, x, launcher->name());

  Sweeper sweeper(o, spec, x, *launcher, std::move(parity_bin), std::move(paths));
  return launcher->executes() ? sweeper.run() : sweeper.print_only();
}

}  // namespace parity::sweep
