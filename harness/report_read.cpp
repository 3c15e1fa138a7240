// The report's input: a merged sweep file or a `parity train --results` file, read into a Sweep
// (docs/hdf5-schema.md has the layout). Whatever of a run group is there is read; what is missing keeps the
// defaults of report.hpp, so that a crashed run or a file from an older version still appears in the tables.
#include <cmath>
#include <limits>

#include "harness/report.hpp"
#include "kernels/error.hpp"
#include "reference/h5io.hpp"

namespace parity::report {
namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string attr_str(const H5Reader& r, const std::string& g, const char* key, const std::string& def = "") {
  return r.has_attr(g, key) ? r.attr_string(g, key) : def;
}
int64_t attr_i64(const H5Reader& r, const std::string& g, const char* key, int64_t def) {
  return r.has_attr(g, key) ? static_cast<int64_t>(std::llround(r.attr_double(g, key))) : def;
}
double attr_f64(const H5Reader& r, const std::string& g, const char* key) {
  return r.has_attr(g, key) ? r.attr_double(g, key) : kNaN;
}

// A dataset as doubles, whatever its numeric type; empty when absent.
std::vector<double> series(const H5Reader& r, const std::string& g, const char* name) {
  const std::string ds = g + "/" + name;
  if (!r.has(ds) || r.is_group(ds)) return {};
  const std::string t = r.dtype(ds);
  if (t.rfind("float", 0) == 0) return r.read_double(ds);
  const std::vector<int64_t> v = r.read_int64(ds);
  return std::vector<double>(v.begin(), v.end());
}

void read_definition(const H5Reader& r, const std::string& g, Run& x) {
  x.dp = attr_i64(r, g, "dp", 1);
  x.tp = attr_i64(r, g, "tp", 1);
  x.pp = attr_i64(r, g, "pp", 1);
  x.zero = attr_i64(r, g, "zero", 0);
  x.ranks = attr_i64(r, g, "ranks", x.dp * x.tp * x.pp);
  x.micro_batches = attr_i64(r, g, "micro_batches", -1);
  x.micro_batch_size = attr_i64(r, g, "micro_batch_size", -1);
  x.seed = attr_i64(r, g, "seed", -1);
  x.steps = attr_i64(r, g, "steps", -1);
  x.layers = attr_i64(r, g, "layers", -1);
  x.channels = attr_i64(r, g, "channels", -1);
  x.heads = attr_i64(r, g, "heads", -1);
  x.seq_len = attr_i64(r, g, "seq_len", -1);
  x.vocab = attr_i64(r, g, "vocab", -1);
  x.precision = attr_str(r, g, "precision", "fp32");
  x.numerics = attr_str(r, g, "numerics", "exact");
  x.schedule = attr_str(r, g, "schedule", "none");
  x.model = attr_str(r, g, "model");
}

void read_verdict(const H5Reader& r, const std::string& g, Run& x) {
  x.status = attr_str(r, g, "status");
  // A word this version does not know reads as no verdict rather than stopping the report.
  x.verdict = sweep::parse_verdict(attr_str(r, g, "parity"), x.status).value_or(sweep::Verdict::none);
  x.baseline = attr_str(r, g, "baseline");
  x.first_diff_tensor = attr_str(r, g, "first_diff_tensor");
  x.output_tail = attr_str(r, g, "output_tail");
  x.note = attr_str(r, g, "note");
  x.max_abs_diff = attr_f64(r, g, "max_abs_diff");
  x.max_rel_diff = attr_f64(r, g, "max_rel_diff");
  x.bound = attr_f64(r, g, "bound");
  x.first_diff_step = attr_i64(r, g, "first_diff_step", -1);
}

// What the trainer computed and recorded about its own run: the pipeline figures and its machine's peak.
void read_recorded_figures(const H5Reader& r, const std::string& g, Run& x) {
  x.theoretical_bubble = attr_f64(r, g, "theoretical_bubble");
  x.idle_fraction = attr_f64(r, g, "idle_fraction");
  x.stage_idle = series(r, g, "stage_idle");
  x.peak_gflops = attr_f64(r, g, "peak_gflops");
  x.peak_source = attr_str(r, g, "peak_source");
}

void read_series(const H5Reader& r, const std::string& g, Run& x) {
  x.step = series(r, g, "step");
  x.loss = series(r, g, "loss");
  x.step_seconds = series(r, g, "step_seconds");
  x.tokens_per_second = series(r, g, "tokens_per_second");
  x.comm_seconds = series(r, g, "comm_seconds");
  x.idle_seconds = series(r, g, "idle_seconds");
  if (x.step.empty())
    for (size_t i = 0; i < x.loss.size(); ++i) x.step.push_back(static_cast<double>(i + 1));
}

// One run group: its definition, verdict, recorded figures and per-step series, whatever of them is there.
Run read_run(const H5Reader& r, const std::string& g, const std::string& id) {
  Run x;
  x.id = id;
  read_definition(r, g, x);
  read_verdict(r, g, x);
  read_recorded_figures(r, g, x);
  read_series(r, g, x);
  return x;
}

void check_format(const H5Reader& r, const std::string& path, Sweep& s) {
  if (!r.has_attr("/", "format")) {
    throw Error(path + " is not a parity sweep file: the root has no format attribute (expected parity-sweep-1 "
                "from parity sweep, or parity-results-1 from parity train --results)");
  }
  s.format = r.attr_string("/", "format");
  if (s.format != "parity-sweep-1" && s.format != "parity-results-1") {
    throw Error(path + " has format '" + s.format + "'; parity report reads parity-sweep-1 (parity sweep) and "
                "parity-results-1 (parity train --results)");
  }
}

std::vector<std::string> run_ids(const H5Reader& r, const std::string& path) {
  std::vector<std::string> ids;
  if (!r.has("/runs")) return ids;
  if (!r.is_group("/runs")) throw Error("/runs in " + path + " is not a group");
  for (const std::string& id : r.list("/runs"))
    if (r.is_group("/runs/" + id)) ids.push_back(id);
  return ids;
}

// /skipped/<id>: the reason, and a row of the parity table when the group carries the run definition.
void read_skipped(const H5Reader& r, Sweep& s) {
  if (!r.has("/skipped") || !r.is_group("/skipped")) return;
  for (const std::string& id : r.list("/skipped")) {
    const std::string g = "/skipped/" + id;
    s.skipped.emplace_back(id, attr_str(r, g, "reason"));
    if (!r.has_attr(g, "dp") || !r.has_attr(g, "tp") || !r.has_attr(g, "pp")) continue;
    Run x = read_run(r, g, id);
    x.verdict = sweep::Verdict::skipped;
    x.status = "skipped";
    x.note = s.skipped.back().second;
    s.skipped_runs.push_back(std::move(x));
  }
}

// Root attributes (sweep files), else those of the first run (results files).
void read_provenance(const H5Reader& r, const std::vector<std::string>& ids, Sweep& s) {
  const std::vector<std::pair<const char*, const char*>> keys = {
      {"git_revision", "git revision"}, {"compiler", "compiler"}, {"kokkos_backend", "Kokkos backend"},
      {"mpi_library", "MPI library"},   {"hosts", "hosts"},       {"date", "date"}};
  for (const auto& [key, label] : keys) {
    std::string v = attr_str(r, "/", key);
    if (v.empty() && !ids.empty()) v = attr_str(r, "/runs/" + ids.front(), key);
    if (!v.empty()) s.provenance.emplace_back(label, v);
  }
}

}  // namespace

Run::Run()
    : max_abs_diff(kNaN), max_rel_diff(kNaN), bound(kNaN), theoretical_bubble(kNaN), idle_fraction(kNaN),
      peak_gflops(kNaN) {}

Sweep load(const std::string& path) {
  H5Reader r(path);
  Sweep s;
  s.path = path;
  check_format(r, path, s);
  s.peak_gflops = attr_f64(r, "/", "peak_gflops");
  const std::vector<std::string> ids = run_ids(r, path);
  for (const std::string& id : ids) s.runs.push_back(read_run(r, "/runs/" + id, id));
  read_skipped(r, s);
  if (s.runs.empty() && s.skipped.empty()) throw Error(path + " holds no runs (no groups under /runs or /skipped)");
  read_provenance(r, ids, s);
  return s;
}

}  // namespace parity::report
