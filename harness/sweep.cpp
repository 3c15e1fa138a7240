#include "harness/sweep.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "harness/compare.hpp"
#include "harness/launcher.hpp"
#include "harness/merge.hpp"
#include "kernels/error.hpp"
#include "reference/h5io.hpp"
#include "reference/provenance.hpp"

namespace fs = std::filesystem;

namespace parity::sweep {
namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

// The single run group of a `parity train --results` file.
std::string run_group(const H5Reader& r) {
  if (!r.has("/runs")) throw Error(r.path() + " has no /runs group");
  const auto runs = r.list("/runs");
  if (runs.size() != 1) throw Error(r.path() + " holds " + std::to_string(runs.size()) + " runs, expected one");
  return "/runs/" + runs[0];
}

std::string clock(double s) {
  if (!(s >= 0) || !std::isfinite(s)) return "?";
  const long t = static_cast<long>(s + 0.5);
  char buf[32];
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
  else
    std::snprintf(buf, sizeof buf, "%ld:%02ld", t / 60, t % 60);
  return buf;
}

std::string fmt(double v, const char* f = "%.3g") {
  if (std::isnan(v)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

Attrs definition_attrs(const TrainConfig& c) {
  return {{"dp", int64_t(c.dp)},
          {"tp", int64_t(c.tp)},
          {"pp", int64_t(c.pp)},
          {"precision", c.precision},
          {"numerics", std::string(to_string(c.numerics))},
          {"schedule", c.pp > 1 ? c.schedule : std::string("none")},
          {"zero", int64_t(c.zero)},
          {"micro_batches", int64_t(c.micro_batches)},
          {"micro_batch_size", int64_t(c.micro_batch_size)},
          {"model", c.model_name},
          {"layers", int64_t(c.model.L)},
          {"channels", int64_t(c.model.C)},
          {"heads", int64_t(c.model.H)},
          {"seq_len", int64_t(c.model.T)},
          {"vocab", int64_t(c.model.V)},
          {"data", c.data},
          {"seed", int64_t(c.seed)},
          {"steps", int64_t(c.steps)},
          {"lr", double(c.lr)},
          {"ranks", int64_t(c.dp * c.tp * c.pp)}};
}

// A run already in the output file must be the same run definition as the spec's (resume).
void check_same_definition(const H5Reader& r, const std::string& g, const RunDef& run) {
  const TrainConfig& c = run.config;
  const std::vector<std::pair<const char*, int64_t>> ints = {
      {"steps", c.steps}, {"micro_batches", c.micro_batches}, {"micro_batch_size", c.micro_batch_size},
      {"seed", int64_t(c.seed)}, {"layers", c.model.L}, {"channels", c.model.C}, {"heads", c.model.H},
      {"seq_len", c.model.T}, {"vocab", c.model.V}};
  for (const auto& [k, v] : ints) {
    if (!r.has_attr(g, k)) continue;
    const int64_t stored = r.attr_int(g, k);
    if (stored != v)
      throw Error("cannot resume " + r.path() + ": run " + run.id + " in it has " + k + " = " + std::to_string(stored) +
                  ", the spec says " + std::to_string(v) + " (a different sweep; write to another --out, or remove the file)");
  }
  if (r.has_attr(g, "data") && r.attr_string(g, "data") != c.data)
    throw Error("cannot resume " + r.path() + ": run " + run.id + " in it has data = " + r.attr_string(g, "data") +
                ", the spec says " + c.data);
}

struct Record {
  std::string id;
  MergeGroup group;
  std::string parity, status;
  double max_rel = kNaN, seconds = kNaN;
  int ranks = 1;
};

}  // namespace

Verdict judge(const std::string& results, const std::string& checkpoint, const std::string& base_results,
              const std::string& base_group, const std::string& base_checkpoint, double bound) {
  Verdict v;
  const H5Reader run(results), base(base_results);
  const std::string g = run_group(run);
  const std::vector<float> loss = run.read_float(g + "/loss"), norm = run.read_float(g + "/grad_norm");
  const std::vector<int64_t> step = run.read_int64(g + "/step");
  const std::vector<float> bloss = base.read_float(base_group + "/loss"), bnorm = base.read_float(base_group + "/grad_norm");
  if (loss.size() != bloss.size()) {
    v.parity = "failed";
    v.max_abs = v.max_rel = v.loss_max_abs = v.loss_max_rel = kNaN;
    v.first_diff_step = static_cast<long>(std::min(loss.size(), bloss.size())) + 1;
    v.first_diff_tensor = "loss";
    v.note = "ran " + std::to_string(loss.size()) + " steps, the baseline " + std::to_string(bloss.size());
    return v;
  }
  const TensorDiff L = compare_arrays("loss", bloss, loss), G = compare_arrays("grad_norm", bnorm, norm);
  const FileDiff F = compare_files(base_checkpoint, checkpoint, "/");
  v.loss_max_abs = L.max_abs;
  v.loss_max_rel = L.max_rel;
  v.ckpt_max_abs = F.max_abs();
  v.ckpt_max_rel = F.max_rel();
  for (const auto& t : F.tensors) v.ckpt_max_ulp = std::max(v.ckpt_max_ulp, t.max_ulp);
  auto step_at = [&](long i) { return i >= 0 && i < static_cast<long>(step.size()) ? static_cast<long>(step[i]) : i + 1; };
  const bool bitwise = L.bitwise() && G.bitwise() && F.bitwise();
  if (bound == 0) {
    // Exact: every bit of the per-step loss and grad norm and of the checkpoint.
    v.parity = bitwise ? "bitwise" : "failed";
    v.max_abs = std::max({L.max_abs, G.max_abs, F.max_abs()});
    v.max_rel = std::max({L.max_rel, G.max_rel, F.max_rel()});
    if (bitwise) return v;
    long first = -1;
    for (const TensorDiff* d : {&L, &G})
      if (d->first_index >= 0 && (first < 0 || d->first_index < first)) first = d->first_index;
    v.first_diff_step = first >= 0 ? step_at(first) : -1;
    if (const TensorDiff* t = F.first_difference()) v.first_diff_tensor = t->name;
    else if (!F.only_in_a.empty()) v.first_diff_tensor = F.only_in_a.front();
    else if (!F.only_in_b.empty()) v.first_diff_tensor = F.only_in_b.front();
    else v.first_diff_tensor = !L.bitwise() ? "loss" : "grad_norm";
    if (first >= 0)
      v.note = std::string(!L.bitwise() && L.first_index == first ? "loss" : "grad norm") + " differs from the baseline at step " +
               std::to_string(v.first_diff_step);
    else
      v.note = "checkpoint differs from the baseline's in " + v.first_diff_tensor;
    if (!F.only_in_a.empty() || !F.only_in_b.empty()) v.note += " (the checkpoints hold different tensors)";
    return v;
  }
  // Fast: the per-step loss within the relative bound.
  v.max_abs = L.max_abs;
  v.max_rel = L.max_rel;
  if (bitwise) {
    v.parity = "bitwise";
    return v;
  }
  if (L.max_rel <= bound) {
    v.parity = "within-bound";
    return v;
  }
  v.parity = "failed";
  for (size_t i = 0; i < loss.size(); ++i) {
    const TensorDiff d = compare_arrays("loss", {bloss[i]}, {loss[i]});
    if (!(d.max_rel <= bound)) {
      v.first_diff_step = step_at(static_cast<long>(i));
      break;
    }
  }
  v.first_diff_tensor = "loss";
  v.note = "loss differs from the exact baseline by " + fmt(L.max_rel) + " (relative) at step " +
           std::to_string(v.first_diff_step) + ", more than the bound " + fmt(bound);
  return v;
}

int run_sweep(const SweepOptions& o) {
  const auto t_start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count(); };
  // The sweep starts its runs itself; started by mpirun/srun as several ranks, each would run the whole sweep.
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"})
    if (std::getenv(v))
      throw Error(std::string("parity sweep starts its runs itself: run it as one process, not under mpirun or srun (") +
                  v + " is set)");
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

  std::string parity_bin = o.parity;
  if (parity_bin.empty()) {
    char exe[4096];
    const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) throw Error("cannot find this binary (/proc/self/exe); give --parity PATH");
    parity_bin.assign(exe, n);
  } else {
    if (access(parity_bin.c_str(), X_OK) != 0) throw Error("--parity " + parity_bin + " is not an executable file");
    parity_bin = fs::absolute(parity_bin).string();
  }
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
  work = fs::absolute(work).string();
  const std::string out = out_abs.string();

  long baselines = 0;
  for (const auto& r : x.runs) baselines += r.baseline;
  std::printf("parity sweep: %s: %zu runs (%ld baseline%s, %zu layouts), %zu skipped%s; launcher %s\n", o.spec.c_str(),
              x.runs.size(), baselines, baselines == 1 ? "" : "s", x.runs.size() - baselines, x.skipped.size(),
              x.merged_duplicates ? (", " + std::to_string(x.merged_duplicates) + " duplicate grid points merged").c_str() : "",
              launcher->name().c_str());
  for (const auto& s : x.skipped) std::printf("  skipped %s: %s\n", s.id.c_str(), s.reason.c_str());
  std::fflush(stdout);

  auto job_of = [&](const RunDef& r) {
    Job j;
    j.id = r.id;
    j.ranks = r.ranks();
    j.argv = {parity_bin, "train"};
    const auto args = train_args(r);
    j.argv.insert(j.argv.end(), args.begin(), args.end());
    j.argv.insert(j.argv.end(), {"--results", "results.h5", "--checkpoint-out", "checkpoint.h5"});
    j.workdir = work + "/" + r.id;
    j.timeout_s = o.timeout;
    return j;
  };

  if (!launcher->executes()) {
    // print: the commands, nothing run, nothing written.
    size_t i = 0;
    for (const RunDef& r : x.runs) {
      ++i;
      std::printf("# [%zu/%zu] %s: %d rank%s, %s\n", i, x.runs.size(), r.id.c_str(), r.ranks(), r.ranks() == 1 ? "" : "s",
                  r.baseline ? "baseline" : ("compared with " + r.baseline_id + (r.bound > 0 ? " (bound " + fmt(r.bound) + ")" : " (bitwise)")).c_str());
      std::printf("%s\n", launcher->command(job_of(r)).c_str());
    }
    return 0;
  }

  // What the output file holds already (--resume).
  std::vector<Record> records;
  std::set<std::string> complete;
  if (o.resume && fs::exists(out)) {
    const H5Reader r(out);
    if (!r.has_attr("/", "format") || r.attr_string("/", "format") != "parity-sweep-1")
      throw Error("cannot resume " + o.out + ": it is not a parity sweep file (format attribute is not parity-sweep-1)");
    std::map<std::string, const RunDef*> by_id;
    for (const auto& run : x.runs) by_id[run.id] = &run;
    if (r.has("/runs"))
      for (const std::string& id : r.list("/runs")) {
        const std::string g = "/runs/" + id;
        if (!r.has_attr(g, "parity")) continue;
        const std::string status = r.has_attr(g, "status") ? r.attr_string(g, "status") : "ok";
        if (o.retry_failed && status != "ok") continue;
        if (by_id.count(id)) check_same_definition(r, g, *by_id[id]);
        Record rec;
        rec.id = id;
        rec.group = {g, out, g, {}};
        rec.parity = r.attr_string(g, "parity");
        rec.status = status;
        rec.max_rel = r.has_attr(g, "max_rel_diff") ? r.attr_double(g, "max_rel_diff") : kNaN;
        rec.seconds = r.has_attr(g, "seconds") ? r.attr_double(g, "seconds") : kNaN;
        rec.ranks = r.has_attr(g, "ranks") ? static_cast<int>(r.attr_int(g, "ranks")) : 1;
        records.push_back(rec);
        complete.insert(id);
      }
    std::printf("parity sweep: resuming %s: %zu runs done, %zu to run\n", o.out.c_str(), complete.size(),
                static_cast<size_t>(std::count_if(x.runs.begin(), x.runs.end(), [&](const RunDef& run) { return !complete.count(run.id); })));
  } else if (fs::exists(out)) {
    std::printf("parity sweep: %s exists and will be replaced (--resume continues it instead)\n", o.out.c_str());
  }

  const Provenance prov = collect_provenance();
  Attrs root = {{"format", std::string("parity-sweep-1")},
                {"git_revision", prov.git_revision},
                {"compiler", prov.compiler},
                {"kokkos_backend", prov.kokkos_backend},
                {"mpi_library", prov.mpi_library},
                {"hosts", prov.hosts},
                {"date", prov.date},
                {"spec", spec.text},
                {"spec_path", o.spec},
                {"spec_name", spec.name},
                {"launcher", launcher->name()},
                {"command", o.command_line},
                {"max_ranks", int64_t(o.max_ranks)},
                {"timeout", o.timeout},
                {"fast_loss_bound", spec.derived_bound ? kNaN : spec.fast_loss_bound}};
  std::vector<MergeGroup> skipped_groups;
  for (const auto& s : x.skipped) {
    MergeGroup g{"/skipped/" + s.id, "", "", definition_attrs(s.config)};
    g.attrs.push_back({"reason", s.reason});
    skipped_groups.push_back(g);
  }
  auto write_out = [&] {
    std::vector<MergeGroup> groups;
    for (const auto& rec : records) groups.push_back(rec.group);
    groups.insert(groups.end(), skipped_groups.begin(), skipped_groups.end());
    write_merged(out, root, groups);
    for (auto& rec : records) rec.group = {rec.group.path, out, rec.group.path, {}};  // now in `out`
  };

  fs::create_directories(work);
  install_interrupt_handlers();
  std::vector<const RunDef*> todo;
  for (const auto& r : x.runs)
    if (!complete.count(r.id)) todo.push_back(&r);
  std::map<std::string, bool> baseline_ok;  // baseline id -> results in `out` and checkpoint on disk
  for (const auto& r : x.runs)
    if (r.baseline && complete.count(r.id)) {
      const auto rec = std::find_if(records.begin(), records.end(), [&](const Record& x) { return x.id == r.id; });
      baseline_ok[r.id] = rec->status == "ok" && rec->parity == "baseline";
    }

  // Runs one job; on the way, records it (unless `record` is false: a baseline run again for its checkpoint).
  size_t done = 0;
  double run_seconds = 0;
  const size_t total = todo.size();
  auto execute = [&](const RunDef& r, bool record) {
    const Job job = job_of(r);
    std::error_code ec;
    fs::remove_all(job.workdir, ec);
    fs::create_directories(job.workdir);
    const double left = done ? run_seconds / done * static_cast<double>(total - done) : kNaN;
    if (record)
      std::printf("[%zu/%zu] %s: %d rank%s | elapsed %s | left ~%s\n", done + 1, total, r.id.c_str(), r.ranks(),
                  r.ranks() == 1 ? "" : "s", clock(elapsed()).c_str(), clock(left).c_str());
    else
      std::printf("        %s: running the baseline again for its checkpoint (its run directory is gone)\n", r.id.c_str());
    std::fflush(stdout);
    const JobResult jr = launcher->run(job);
    if (const int sig = interrupted())
      throw Error("interrupted by signal " + std::to_string(sig) + " during run " + r.id + "; " + std::to_string(done) +
                  " runs are recorded in " + o.out + " (--resume continues the sweep)");
    const std::string results = job.workdir + "/results.h5", ckpt = job.workdir + "/checkpoint.h5";
    JobResult res = jr;
    if (res.status == JobStatus::ok && (!fs::exists(results) || !fs::exists(ckpt))) {
      res.status = JobStatus::crashed;
      res.output_tail += "\nparity sweep: the run exited 0 but wrote no " + std::string(fs::exists(results) ? "checkpoint" : "results file");
    }
    if (!record) {
      if (res.status != JobStatus::ok)
        std::printf("        %s: %s; its layouts cannot be compared\n", r.id.c_str(), to_string(res.status));
      return res.status == JobStatus::ok;
    }
    ++done;
    run_seconds += res.seconds;

    Verdict v;
    v.max_abs = v.max_rel = v.loss_max_abs = v.loss_max_rel = v.ckpt_max_abs = v.ckpt_max_rel = kNaN;
    if (res.status != JobStatus::ok) {
      v.parity = "failed";
      v.note = res.status == JobStatus::timeout ? "ran past the timeout of " + fmt(o.timeout, "%g") + " s and was killed"
                                                : "exited with status " + std::to_string(res.exit_code);
    } else if (r.baseline) {
      v = Verdict{};
      v.parity = "baseline";
    } else if (!baseline_ok[r.baseline_id]) {
      v.parity = "failed";
      v.note = "its baseline " + r.baseline_id + " did not complete";
    } else {
      try {
        v = judge(results, ckpt, out, "/runs/" + r.baseline_id, work + "/" + r.baseline_id + "/checkpoint.h5", r.bound);
      } catch (const Error& e) {
        v = Verdict{};
        v.max_abs = v.max_rel = kNaN;
        v.parity = "failed";
        v.note = std::string("cannot compare: ") + e.what();
      }
    }
    Record rec;
    rec.id = r.id;
    rec.parity = v.parity;
    rec.status = to_string(res.status);
    rec.max_rel = v.max_rel;
    rec.seconds = res.seconds;
    rec.ranks = r.ranks();
    rec.group.path = "/runs/" + r.id;
    if (fs::exists(results)) {
      try {
        rec.group.source_path = run_group(H5Reader(results));
        rec.group.source_file = results;
      } catch (const Error&) {
      }
    }
    rec.group.attrs = definition_attrs(r.config);
    const Attrs verdict = {{"parity", v.parity},
                           {"baseline", r.baseline_id},
                           {"max_abs_diff", v.max_abs},
                           {"max_rel_diff", v.max_rel},
                           {"bound", r.bound},
                           {"first_diff_step", int64_t(v.first_diff_step)},
                           {"first_diff_tensor", v.first_diff_tensor},
                           {"loss_max_abs_diff", v.loss_max_abs},
                           {"loss_max_rel_diff", v.loss_max_rel},
                           {"checkpoint_max_abs_diff", v.ckpt_max_abs},
                           {"checkpoint_max_rel_diff", v.ckpt_max_rel},
                           {"checkpoint_max_ulp", int64_t(v.ckpt_max_ulp)},
                           {"note", v.note},
                           {"status", std::string(to_string(res.status))},
                           {"exit_code", int64_t(res.exit_code)},
                           {"output_tail", res.output_tail},
                           {"seconds", res.seconds},
                           {"command", res.command},
                           {"launcher", launcher->name()},
                           {"ranks", int64_t(r.ranks())}};
    rec.group.attrs.insert(rec.group.attrs.end(), verdict.begin(), verdict.end());
    records.push_back(rec);
    write_out();
    if (r.baseline) baseline_ok[r.id] = res.status == JobStatus::ok;

    std::string line = "[" + std::to_string(done) + "/" + std::to_string(total) + "] " + r.id + ": ";
    if (res.status != JobStatus::ok) line += "FAILED (" + std::string(to_string(res.status)) + ": " + v.note + ")";
    else if (v.parity == "failed") line += "FAILED (" + v.note + ")";
    else if (v.parity == "baseline") line += "baseline";
    else if (v.parity == "within-bound") line += "within-bound (loss rel. diff " + fmt(v.max_rel) + " <= " + fmt(r.bound) + ")";
    else line += v.parity;
    std::printf("%s in %.1f s\n", line.c_str(), res.seconds);
    if (res.status != JobStatus::ok) {
      // Its error lines ("parity: error: ..."), else the last lines of its output, indented.
      std::vector<std::string> lines, errors;
      std::stringstream ss(res.output_tail);
      for (std::string l; std::getline(ss, l);)
        if (!l.empty()) {
          lines.push_back(l);
          if ((l.find("parity: error") != std::string::npos || l.find("parity: internal error") != std::string::npos) &&
              std::find(errors.begin(), errors.end(), l) == errors.end())  // every rank may say the same
            errors.push_back(l);
        }
      if (errors.empty()) errors.assign(lines.end() - std::min<size_t>(lines.size(), 4), lines.end());
      for (const auto& l : errors) std::printf("    %s\n", l.c_str());
    }
    std::fflush(stdout);
    if (v.parity != "failed" && !r.baseline && !o.keep_runs) fs::remove_all(job.workdir, ec);
    return res.status == JobStatus::ok;
  };

  for (const RunDef* r : todo) {
    if (!r->baseline && baseline_ok.count(r->baseline_id) && baseline_ok[r->baseline_id] &&
        !fs::exists(work + "/" + r->baseline_id + "/checkpoint.h5")) {
      // Resumed: the baseline's result is in the file but its checkpoint is gone. It is deterministic: run it again.
      const auto base = std::find_if(x.runs.begin(), x.runs.end(), [&](const RunDef& b) { return b.id == r->baseline_id; });
      baseline_ok[r->baseline_id] = execute(*base, false);
    }
    execute(*r, true);
  }
  if (todo.empty()) write_out();  // nothing left to run: refresh the skipped groups and the root attributes

  // Summary: the parity table of this spec's runs.
  long n_bitwise = 0, n_within = 0, n_failed = 0, n_base = 0;
  std::printf("\n%-40s %5s  %-12s %-8s %10s %8s\n", "run", "ranks", "parity", "status", "max rel", "seconds");
  std::vector<const Record*> table;  // in the spec's order
  for (const auto& run : x.runs)
    for (const auto& rec : records)
      if (rec.id == run.id) table.push_back(&rec);
  for (const Record* p : table) {
    const Record& rec = *p;
    std::printf("%-40s %5d  %-12s %-8s %10s %8s\n", rec.id.c_str(), rec.ranks, rec.parity.c_str(), rec.status.c_str(),
                rec.parity == "baseline" ? "" : fmt(rec.max_rel).c_str(), fmt(rec.seconds, "%.1f").c_str());
    if (rec.parity == "failed" || rec.status != "ok") ++n_failed;
    else if (rec.parity == "bitwise") ++n_bitwise;
    else if (rec.parity == "within-bound") ++n_within;
    else if (rec.parity == "baseline") ++n_base;
  }
  std::printf("\nparity sweep: %ld bitwise, %ld within bound, %ld failed, %ld baseline%s, %zu skipped -> %s (%s)\n", n_bitwise,
              n_within, n_failed, n_base, n_base == 1 ? "" : "s", x.skipped.size(), o.out.c_str(), clock(elapsed()).c_str());
  if (n_failed == 0 && !o.keep_runs) {
    std::error_code ec;
    fs::remove_all(work, ec);
  } else if (n_failed > 0) {
    std::printf("parity sweep: the run directories of the failed runs and the baselines are kept under %s\n", work.c_str());
  }
  std::fflush(stdout);
  return n_failed ? 1 : 0;
}

}  // namespace parity::sweep
