// Tables and plots from a merged sweep file (see report.hpp and docs/reports.md).
#include "harness/report.hpp"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <tuple>

#include "harness/plot_svg.hpp"
#include "kernels/error.hpp"
#include "reference/h5io.hpp"

namespace parity::report {
namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();
// One AVX-512 core of the reference build machine (ANCHORS.md: ~220 GFLOP/s fp32 FMA peak per core).
const double kDefaultPeakGflops = 220;

// ------------------------------------------------------------------------------------------- reading

std::string attr_str(const H5Reader& r, const std::string& g, const char* key, const std::string& def = "") {
  return r.has_attr(g, key) ? r.attr_string(g, key) : def;
}
int64_t attr_i64(const H5Reader& r, const std::string& g, const char* key, int64_t def) {
  return r.has_attr(g, key) ? static_cast<int64_t>(std::llround(r.attr_double(g, key))) : def;
}
double attr_f64(const H5Reader& r, const std::string& g, const char* key) {
  return r.has_attr(g, key) ? r.attr_double(g, key) : kNaN;
}

std::vector<double> series(const H5Reader& r, const std::string& g, const char* name) {
  const std::string ds = g + "/" + name;
  if (!r.has(ds) || r.is_group(ds)) return {};
  const std::string t = r.dtype(ds);
  if (t.rfind("float", 0) == 0) return r.read_double(ds);
  const std::vector<int64_t> v = r.read_int64(ds);
  return std::vector<double>(v.begin(), v.end());
}

// ------------------------------------------------------------------------------------------- formatting

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// Three significant digits; "0" for zero, the dash for unknown.
std::string g3(double v, const char* dash = "—") {
  if (std::isnan(v)) return dash;
  if (v == 0) return "0";
  return fmt("%.3g", v);
}
std::string pct(double v, const char* dash = "—") { return std::isnan(v) ? dash : fmt("%.1f%%", 100 * v); }
std::string fixed(const char* f, double v, const char* dash = "—") { return std::isnan(v) ? dash : fmt(f, v); }
// Full precision for CSV, empty when unknown.
std::string csv_num(double v) {
  if (std::isnan(v)) return "";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return fmt("%.9g", v);
}
std::string csv_int(int64_t v) { return v < 0 ? "" : std::to_string(v); }

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string o = "\"";
  for (char c : s) o += c == '"' ? std::string("\"\"") : std::string(1, c);
  return o + "\"";
}
std::string csv_row(const std::vector<std::string>& fields) {
  std::string o;
  for (size_t i = 0; i < fields.size(); ++i) o += (i ? "," : "") + csv_field(fields[i]);
  return o + "\n";
}

std::string md_cell(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '|') o += "\\|";
    else if (c == '\n') o += ' ';
    else o += c;
  }
  return o;
}
std::string md_row(const std::vector<std::string>& cells) {
  std::string o = "|";
  for (const std::string& c : cells) o += " " + md_cell(c) + " |";
  return o + "\n";
}
std::string md_rule(const std::vector<bool>& right) {
  std::string o = "|";
  for (bool r : right) o += r ? "---:|" : "---|";
  return o + "\n";
}

// ------------------------------------------------------------------------------------------- runs

int precision_rank(const std::string& p) {
  return p == "fp32" ? 0 : p == "bf16" ? 1 : p == "fp16" ? 2 : 3;
}
int numerics_rank(const std::string& n) { return n == "exact" ? 0 : n == "fast" ? 1 : 2; }

bool pipelined(const Run& r) { return r.pp > 1; }

std::string schedule_of(const Run& r) {
  return pipelined(r) && !r.schedule.empty() && r.schedule != "none" ? r.schedule : "";
}

// "dp2·tp2·pp2 · 1f1b · ZeRO-1"
std::string layout_label(const Run& r) {
  std::string s = "dp" + std::to_string(r.dp) + "·tp" + std::to_string(r.tp) + "·pp" + std::to_string(r.pp);
  if (!schedule_of(r).empty()) s += " · " + schedule_of(r);
  if (r.zero > 0) s += " · ZeRO-" + std::to_string(r.zero);
  return s;
}

std::string batch_label(const Run& r) {
  if (r.micro_batches < 0 || r.micro_batch_size < 0) return "?";
  return std::to_string(r.micro_batches) + "×" + std::to_string(r.micro_batch_size);
}

// The run's verdict as one word: baseline, bitwise, within-bound, failed, crashed, timeout, or "" (none).
std::string verdict(const Run& r) {
  if (r.status == "crashed" || r.status == "timeout") return r.status;
  return r.parity;
}

bool ran_ok(const Run& r) { return r.status.empty() || r.status == "ok"; }

// Which of model, batch shape and seed vary across the runs: those become part of a row's key.
struct Varying {
  bool model = false, batch = false, seed = false;
};
Varying varying(const Sweep& s) {
  Varying v;
  std::set<std::string> models, batches;
  std::set<int64_t> seeds;
  for (const Run& r : s.runs) {
    models.insert(r.model + "/" + std::to_string(r.layers) + "/" + std::to_string(r.channels) + "/" +
                  std::to_string(r.heads) + "/" + std::to_string(r.seq_len) + "/" + std::to_string(r.vocab));
    batches.insert(batch_label(r));
    seeds.insert(r.seed);
  }
  v.model = models.size() > 1;
  v.batch = batches.size() > 1;
  v.seed = seeds.size() > 1;
  return v;
}

std::string model_label(const Run& r) {
  std::string m = r.model.empty() ? "model" : r.model;
  return m + " (L" + std::to_string(r.layers) + " C" + std::to_string(r.channels) + " H" + std::to_string(r.heads) +
         " T" + std::to_string(r.seq_len) + " V" + std::to_string(r.vocab) + ")";
}

// Key of a (precision, numerics[, model]) group: tables and plots are made per group.
struct GroupKey {
  std::string model;  // model_label, or "" when the sweep has one model
  std::string precision, numerics;
  bool operator<(const GroupKey& o) const {
    return std::make_tuple(model, precision_rank(precision), precision, numerics_rank(numerics), numerics) <
           std::make_tuple(o.model, precision_rank(o.precision), o.precision, numerics_rank(o.numerics), o.numerics);
  }
  std::string label() const {
    return precision + " " + numerics + (model.empty() ? "" : ", " + model);
  }
  std::string slug() const {
    std::string m;
    if (!model.empty()) {
      for (char c : model.substr(0, model.find(' '))) m += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      m += "-";
    }
    return m + precision + "-" + numerics;
  }
};
GroupKey group_of(const Run& r, bool several_models) {
  return {several_models ? model_label(r) : "", r.precision, r.numerics};
}

// Row order of the tables: by model, then ranks, then the layout (the seed, model size and batch shape only
// break ties, so that a skipped layout without them sorts among the others).
bool layout_less(const Run* a, const Run* b) {
  return std::make_tuple(a->model, a->ranks, a->dp, a->tp, a->pp, schedule_of(*a), a->zero, a->seed, a->layers,
                         a->channels, a->micro_batches, a->micro_batch_size, a->id) <
         std::make_tuple(b->model, b->ranks, b->dp, b->tp, b->pp, schedule_of(*b), b->zero, b->seed, b->layers,
                         b->channels, b->micro_batches, b->micro_batch_size, b->id);
}

std::string diff_summary(const Run& r) {
  std::string s;
  if (!std::isnan(r.max_abs_diff)) s += "abs " + g3(r.max_abs_diff);
  if (!std::isnan(r.max_rel_diff)) s += std::string(s.empty() ? "" : ", ") + "rel " + g3(r.max_rel_diff);
  return s;
}

std::string parity_cell(const Run& r) {
  const std::string v = verdict(r);
  if (v == "baseline" || v == "bitwise") return v;
  if (v == "within-bound") {
    std::string s = "within-bound";
    std::string d = diff_summary(r);
    if (!std::isnan(r.bound)) d += std::string(d.empty() ? "" : ", ") + "bound " + g3(r.bound);
    return d.empty() ? s : s + " (" + d + ")";
  }
  if (v == "failed") {
    std::string s = "**failed**";
    if (r.first_diff_step >= 0) s += " at step " + std::to_string(r.first_diff_step);
    if (!r.first_diff_tensor.empty()) s += ", " + r.first_diff_tensor;
    const std::string d = diff_summary(r);
    return d.empty() ? s : s + " (" + d + ")";
  }
  if (v == "crashed" || v == "timeout") return "**" + v + "**";
  if (v == "skipped") return "skipped";
  return v.empty() ? "—" : v;
}

// ------------------------------------------------------------------------------------------- scaling

struct Scaling {
  const Run* run = nullptr;
  const Run* base = nullptr;  // 1-rank run it is measured against
  double tps = kNaN, speedup = kNaN, efficiency = kNaN, flops = kNaN, mfu = kNaN, comm = kNaN, idle = kNaN,
         bubble = kNaN;
  int measured_steps = 0;
};

bool same_model(const Run& a, const Run& b) {
  return a.model == b.model && a.layers == b.layers && a.channels == b.channels && a.heads == b.heads &&
         a.seq_len == b.seq_len && a.vocab == b.vocab;
}

// The 1-rank run a run's throughput is measured against: same precision, numerics and model; then the same
// batch shape (m, b) (strong scaling); else a global batch of m·b/dp (weak scaling over DP); else the first
// 1-rank run by id.
const Run* scaling_baseline(const Sweep& s, const Run& r) {
  std::vector<const Run*> c;
  for (const Run& b : s.runs) {
    if (b.ranks == 1 && ran_ok(b) && b.precision == r.precision && b.numerics == r.numerics && same_model(b, r) &&
        !std::isnan(median_tokens_per_second(b)))
      c.push_back(&b);
  }
  if (c.empty()) return nullptr;
  for (const Run* b : c)
    if (b->micro_batches == r.micro_batches && b->micro_batch_size == r.micro_batch_size) return b;
  for (const Run* b : c)
    if (r.dp > 0 && b->micro_batches * b->micro_batch_size * r.dp == r.micro_batches * r.micro_batch_size) return b;
  return c.front();
}

// The window of steps throughput is measured over: all after the first, or the only one.
size_t first_measured(size_t n) { return n > 1 ? 1 : 0; }

double window_sum(const std::vector<double>& v, size_t from) {
  double s = 0;
  for (size_t i = from; i < v.size(); ++i) s += v[i];
  return s;
}

std::vector<Scaling> scaling_rows(const Sweep& s, const Peak& peak) {
  std::vector<const Run*> runs;
  for (const Run& r : s.runs)
    if (ran_ok(r) && !std::isnan(median_tokens_per_second(r))) runs.push_back(&r);
  std::sort(runs.begin(), runs.end(), layout_less);
  std::vector<Scaling> out;
  for (const Run* r : runs) {
    Scaling x;
    x.run = r;
    x.tps = median_tokens_per_second(*r);
    x.measured_steps = static_cast<int>(r->tokens_per_second.size() - first_measured(r->tokens_per_second.size()));
    x.base = scaling_baseline(s, *r);
    if (x.base) {
      x.speedup = x.tps / median_tokens_per_second(*x.base);
      x.efficiency = x.speedup / static_cast<double>(r->ranks);
    }
    x.flops = flops_per_token(*r);
    x.mfu = x.tps * x.flops / (peak.gflops * 1e9 * static_cast<double>(r->ranks));
    const size_t from = first_measured(r->step_seconds.size());
    const double total = window_sum(r->step_seconds, from);
    if (total > 0 && r->comm_seconds.size() == r->step_seconds.size())
      x.comm = window_sum(r->comm_seconds, from) / total;
    if (!std::isnan(r->idle_fraction)) {
      x.idle = r->idle_fraction;
    } else if (total > 0 && r->idle_seconds.size() == r->step_seconds.size()) {
      x.idle = window_sum(r->idle_seconds, from) / total;
    }
    x.bubble = r->theoretical_bubble;
    if (std::isnan(x.bubble) && r->micro_batches > 0)
      x.bubble = static_cast<double>(r->pp - 1) / static_cast<double>(r->micro_batches + r->pp - 1);
    out.push_back(x);
  }
  return out;
}

// ------------------------------------------------------------------------------------------- files

void write_text(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp." + std::to_string(static_cast<long>(::getpid()));
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw Error("cannot create " + path + ": " + std::strerror(errno));
    f << text;
    f.flush();
    if (!f) {
      std::remove(tmp.c_str());
      throw Error("cannot write " + path + " (disk full?)");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    throw Error("cannot rename " + tmp + " onto " + path + ": " + why);
  }
}

std::string shell_quote(const std::string& s) {
  std::string o = "'";
  for (char c : s) o += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return o + "'";
}

bool on_path(const std::string& tool) {
  const char* path = std::getenv("PATH");
  if (!path) return false;
  std::stringstream ss(path);
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    if (dir.empty()) continue;
    const std::string p = dir + "/" + tool;
    if (::access(p.c_str(), X_OK) == 0) return true;
  }
  return false;
}

// Runs a shell command; returns its exit status and leaves its combined output in `out`.
int run_capture(const std::string& cmd, std::string& out) {
  out.clear();
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  const int st = ::pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

bool nonempty_file(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && st.st_size > 0;
}

// SVG -> PNG with the first converter that works.
void to_png(const std::string& svg, const std::string& png) {
  std::string tried;
  const std::vector<std::pair<std::string, std::string>> tools = {
      {"rsvg-convert", "rsvg-convert --background-color=white -o " + shell_quote(png) + " " + shell_quote(svg)},
      {"convert", "convert " + shell_quote(svg) + " " + shell_quote(png)}};
  for (const auto& [tool, cmd] : tools) {
    if (!on_path(tool)) {
      tried += "; " + tool + ": not installed";
      continue;
    }
    std::remove(png.c_str());
    std::string out;
    const int rc = run_capture(cmd, out);
    if (rc == 0 && nonempty_file(png)) return;
    std::remove(png.c_str());
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    if (out.size() > 300) out = out.substr(0, 300) + "...";
    tried += "; " + tool + ": exit status " + std::to_string(rc) + (out.empty() ? "" : " (" + out + ")");
  }
  throw Error("--plots png: cannot convert " + svg + " to PNG" + tried +
              ". Install librsvg2-bin (rsvg-convert) or imagemagick (convert), or use --plots svg");
}

}  // namespace

Run::Run()
    : max_abs_diff(kNaN), max_rel_diff(kNaN), bound(kNaN), theoretical_bubble(kNaN), idle_fraction(kNaN) {}

// ------------------------------------------------------------------------------------------- load

// One run group: its definition, verdict and per-step series, whatever of them is there.
Run read_run(const H5Reader& r, const std::string& g, const std::string& id) {
  Run x;
  x.id = id;
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
  x.parity = attr_str(r, g, "parity");
  x.baseline = attr_str(r, g, "baseline");
  x.first_diff_tensor = attr_str(r, g, "first_diff_tensor");
  x.status = attr_str(r, g, "status");
  x.output_tail = attr_str(r, g, "output_tail");
  x.note = attr_str(r, g, "note");
  x.max_abs_diff = attr_f64(r, g, "max_abs_diff");
  x.max_rel_diff = attr_f64(r, g, "max_rel_diff");
  x.bound = attr_f64(r, g, "bound");
  x.theoretical_bubble = attr_f64(r, g, "theoretical_bubble");
  x.idle_fraction = attr_f64(r, g, "idle_fraction");
  x.first_diff_step = attr_i64(r, g, "first_diff_step", -1);
  x.step = series(r, g, "step");
  x.loss = series(r, g, "loss");
  x.step_seconds = series(r, g, "step_seconds");
  x.tokens_per_second = series(r, g, "tokens_per_second");
  x.comm_seconds = series(r, g, "comm_seconds");
  x.idle_seconds = series(r, g, "idle_seconds");
  if (x.step.empty())
    for (size_t i = 0; i < x.loss.size(); ++i) x.step.push_back(static_cast<double>(i + 1));
  return x;
}


Sweep load(const std::string& path) {
  H5Reader r(path);
  Sweep s;
  s.path = path;
  if (!r.has_attr("/", "format")) {
    throw Error(path + " is not a parity sweep file: the root has no format attribute (expected parity-sweep-1 "
                "from parity sweep, or parity-results-1 from parity train --results)");
  }
  s.format = r.attr_string("/", "format");
  if (s.format != "parity-sweep-1" && s.format != "parity-results-1") {
    throw Error(path + " has format '" + s.format + "'; parity report reads parity-sweep-1 (parity sweep) and "
                "parity-results-1 (parity train --results)");
  }
  s.peak_gflops = attr_f64(r, "/", "peak_gflops");

  std::vector<std::string> ids;
  if (r.has("/runs")) {
    if (!r.is_group("/runs")) throw Error("/runs in " + path + " is not a group");
    for (const std::string& id : r.list("/runs"))
      if (r.is_group("/runs/" + id)) ids.push_back(id);
  }
  for (const std::string& id : ids) s.runs.push_back(read_run(r, "/runs/" + id, id));
  if (r.has("/skipped") && r.is_group("/skipped")) {
    for (const std::string& id : r.list("/skipped")) {
      const std::string g = "/skipped/" + id;
      s.skipped.emplace_back(id, attr_str(r, g, "reason"));
      if (r.has_attr(g, "dp") && r.has_attr(g, "tp") && r.has_attr(g, "pp")) {
        Run x = read_run(r, g, id);
        x.parity = x.status = "skipped";
        x.note = s.skipped.back().second;
        s.skipped_runs.push_back(std::move(x));
      }
    }
  }
  if (s.runs.empty() && s.skipped.empty()) throw Error(path + " holds no runs (no groups under /runs or /skipped)");

  // Provenance: root attributes (sweep files), else those of the first run (results files).
  const std::vector<std::pair<const char*, const char*>> keys = {
      {"git_revision", "git revision"}, {"compiler", "compiler"}, {"kokkos_backend", "Kokkos backend"},
      {"mpi_library", "MPI library"},   {"hosts", "hosts"},       {"date", "date"}};
  for (const auto& [key, label] : keys) {
    std::string v = attr_str(r, "/", key);
    if (v.empty() && !ids.empty()) v = attr_str(r, "/runs/" + ids.front(), key);
    if (!v.empty()) s.provenance.emplace_back(label, v);
  }
  return s;
}

double flops_per_token(const Run& r) {
  if (r.layers <= 0 || r.channels <= 0 || r.seq_len <= 0 || r.vocab <= 0) return kNaN;
  const double L = static_cast<double>(r.layers), C = static_cast<double>(r.channels);
  const double T = static_cast<double>(r.seq_len), V = static_cast<double>(r.vocab);
  const double N = V * C + L * (12 * C * C + 13 * C) + 2 * C;
  return 6 * N + 12 * L * T * C;
}

double median_tokens_per_second(const Run& r) {
  std::vector<double> v;
  for (size_t i = first_measured(r.tokens_per_second.size()); i < r.tokens_per_second.size(); ++i)
    if (std::isfinite(r.tokens_per_second[i])) v.push_back(r.tokens_per_second[i]);
  if (v.empty()) return kNaN;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

Peak choose_peak(const Sweep& s, double cli_gflops) {
  if (cli_gflops > 0) return {cli_gflops, "peak: " + g3(cli_gflops) + " GFLOP/s per rank (--peak-gflops)"};
  if (s.peak_gflops > 0)
    return {s.peak_gflops, "peak: " + g3(s.peak_gflops) + " GFLOP/s per rank (measured, from the file)"};
  return {kDefaultPeakGflops,
          "peak: 220 GFLOP/s per rank, assumed (one AVX-512 core of the reference build machine, ANCHORS.md); the "
          "file records no peak_gflops; pass --peak-gflops for another machine"};
}

// ------------------------------------------------------------------------------------------- tables

std::string provenance_markdown(const Sweep& s) {
  std::string o;
  o += "- file: `" + s.path.substr(s.path.rfind('/') == std::string::npos ? 0 : s.path.rfind('/') + 1) + "` (" +
       s.format + ")\n";
  for (const auto& [k, v] : s.provenance) o += "- " + k + ": " + v + "\n";
  return o;
}

std::string parity_markdown(const Sweep& s) {
  const Varying var = varying(s);
  // Columns: precision/numerics in a fixed order.
  std::set<GroupKey> columns;
  for (const Run& r : s.runs) columns.insert({"", r.precision, r.numerics});
  for (const Run& r : s.skipped_runs) columns.insert({"", r.precision, r.numerics});
  // Rows: the layout and whatever else varies; cells hold the verdicts.
  struct RowKey {
    std::vector<std::string> label;
    const Run* first;
  };
  std::vector<const Run*> runs;
  for (const Run& r : s.runs) runs.push_back(&r);
  for (const Run& r : s.skipped_runs) runs.push_back(&r);
  std::sort(runs.begin(), runs.end(), layout_less);
  std::vector<std::vector<std::string>> rows;
  std::vector<std::vector<std::string>> cells;
  auto key_of = [&](const Run& r) {
    std::vector<std::string> k = {layout_label(r), std::to_string(r.ranks)};
    if (var.model) k.push_back(model_label(r));
    if (var.batch) k.push_back(batch_label(r));
    if (var.seed) k.push_back(std::to_string(r.seed));
    return k;
  };
  for (const Run* r : runs) {
    const std::vector<std::string> k = key_of(*r);
    size_t row = std::find(rows.begin(), rows.end(), k) - rows.begin();
    if (row == rows.size()) {
      rows.push_back(k);
      cells.emplace_back(columns.size());
    }
    const size_t col = std::distance(columns.begin(), columns.find({"", r->precision, r->numerics}));
    std::string& cell = cells[row][col];
    cell += (cell.empty() ? "" : "<br>") + parity_cell(*r);
  }

  std::map<std::string, int> count;
  for (const Run& r : s.runs) ++count[verdict(r).empty() ? "no verdict" : verdict(r)];
  std::string o;
  o += std::to_string(s.runs.size()) + (s.runs.size() == 1 ? " run" : " runs");
  std::string parts;
  for (const char* v : {"baseline", "bitwise", "within-bound", "failed", "crashed", "timeout", "no verdict"}) {
    auto it = count.find(v);
    if (it == count.end()) continue;
    std::string word = v;
    if (word == "baseline" && it->second > 1) word = "baselines";
    parts += (parts.empty() ? "" : ", ") + std::to_string(it->second) + " " + word;
    count.erase(it);
  }
  for (const auto& [v, n] : count) parts += (parts.empty() ? "" : ", ") + std::to_string(n) + " " + v;
  if (!parts.empty()) o += ": " + parts;
  if (s.format == "parity-results-1") o += " (a parity train results file: no baseline, no verdicts)";
  if (!s.skipped.empty())
    o += "; " + std::to_string(s.skipped.size()) + (s.skipped.size() == 1 ? " layout" : " layouts") + " skipped";
  o += ".\n\n";

  if (!rows.empty()) {
    std::vector<std::string> head = {"layout", "ranks"};
    if (var.model) head.push_back("model");
    if (var.batch) head.push_back("m×b");
    if (var.seed) head.push_back("seed");
    for (const GroupKey& c : columns) head.push_back(c.precision + " " + c.numerics);
    std::vector<bool> right(head.size(), false);
    right[1] = true;
    o += md_row(head) + md_rule(right);
    for (size_t i = 0; i < rows.size(); ++i) {
      std::vector<std::string> line = rows[i];
      for (std::string& c : cells[i]) line.push_back(c.empty() ? "—" : c);
      o += md_row(line);
    }
    o += "\nbitwise: every loss, gradient and parameter equals the baseline's bit for bit; within-bound: fast "
         "numerics, largest difference within the stated bound; abs / rel: largest absolute / relative difference.\n";
  }

  if (!s.skipped.empty()) {
    o += "\nSkipped layouts:\n\n" + md_row({"layout", "reason"}) + md_rule({false, false});
    for (const auto& [id, why] : s.skipped) o += md_row({id, why.empty() ? "—" : why});
  }

  std::string failures;
  for (const Run* r : runs) {
    const std::string v = verdict(*r);
    if (v != "failed" && v != "crashed" && v != "timeout") continue;
    failures += "\n- `" + r->id + "`: " + v;
    if (r->first_diff_step >= 0) failures += " at step " + std::to_string(r->first_diff_step);
    if (!r->first_diff_tensor.empty()) failures += ", first differing tensor " + r->first_diff_tensor;
    const std::string d = diff_summary(*r);
    if (!d.empty()) failures += "; largest difference " + d;
    if (!r->note.empty()) failures += "; " + r->note;
    if (!r->baseline.empty()) failures += " (baseline `" + r->baseline + "`)";
    failures += "\n";
    if (!r->output_tail.empty()) {
      std::string tail = r->output_tail;
      while (!tail.empty() && tail.back() == '\n') tail.pop_back();
      // The last 20 lines; a fence the tail cannot close.
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
      failures += "\n  " + fence + "\n";
      std::stringstream ss(tail);
      std::string line;
      while (std::getline(ss, line)) failures += "  " + line + "\n";
      failures += "  " + fence + "\n";
    }
  }
  if (!failures.empty()) o += "\nFailures:\n" + failures;
  return o;
}

std::string parity_csv(const Sweep& s) {
  std::string o = csv_row({"run_id", "dp", "tp", "pp", "schedule", "zero", "ranks", "precision", "numerics", "model",
                           "micro_batches", "micro_batch_size", "seed", "steps", "status", "parity", "baseline",
                           "max_abs_diff", "max_rel_diff", "bound", "first_diff_step", "first_diff_tensor", "note",
                           "reason"});
  std::vector<const Run*> runs;
  for (const Run& r : s.runs) runs.push_back(&r);
  std::sort(runs.begin(), runs.end(), layout_less);
  for (const Run* r : runs) {
    o += csv_row({r->id, std::to_string(r->dp), std::to_string(r->tp), std::to_string(r->pp),
                  schedule_of(*r).empty() ? "none" : schedule_of(*r), std::to_string(r->zero), std::to_string(r->ranks),
                  r->precision, r->numerics, r->model, csv_int(r->micro_batches), csv_int(r->micro_batch_size),
                  csv_int(r->seed), csv_int(r->steps), r->status, r->parity, r->baseline, csv_num(r->max_abs_diff),
                  csv_num(r->max_rel_diff), csv_num(r->bound),
                  r->first_diff_step >= 0 ? std::to_string(r->first_diff_step) : "", r->first_diff_tensor, r->note,
                  ""});
  }
  for (const auto& [id, why] : s.skipped) {
    const auto it = std::find_if(s.skipped_runs.begin(), s.skipped_runs.end(), [&](const Run& r) { return r.id == id; });
    if (it == s.skipped_runs.end()) {
      o += csv_row({id, "", "", "", "", "", "", "", "", "", "", "", "", "", "skipped", "skipped", "", "", "", "", "", "",
                    "", why});
      continue;
    }
    const Run& r = *it;
    o += csv_row({r.id, std::to_string(r.dp), std::to_string(r.tp), std::to_string(r.pp),
                  schedule_of(r).empty() ? "none" : schedule_of(r), std::to_string(r.zero), std::to_string(r.ranks),
                  r.precision, r.numerics, r.model, csv_int(r.micro_batches), csv_int(r.micro_batch_size),
                  csv_int(r.seed), csv_int(r.steps), "skipped", "skipped", "", "", "", "", "", "", "", why});
  }
  return o;
}

std::string scaling_markdown(const Sweep& s, const Peak& peak) {
  const std::vector<Scaling> rows = scaling_rows(s, peak);
  const Varying var = varying(s);
  std::string o;
  o += "- tokens/s: median over the steps after the first (the first includes warm-up)\n"
       "- speed-up: against the 1-rank run of the same precision, numerics, model and batch; efficiency = "
       "speed-up / ranks\n"
       "- MFU = tokens/s · FLOPs/token / (peak · ranks), FLOPs/token = 6·N + 12·L·T·C with "
       "N = V·C + L·(12C² + 13C) + 2C (wpe not counted)\n"
       "- " + peak.note + "\n"
       "- comm: share of the step time spent inside collectives; idle: pipeline idle share (mean over stages) next "
       "to the theoretical bubble (p−1)/(m+p−1)\n";
  if (rows.empty()) return o + "\nNo run has throughput data.\n";
  std::map<GroupKey, std::vector<const Scaling*>> groups;
  for (const Scaling& x : rows) groups[group_of(*x.run, var.model)].push_back(&x);
  for (const auto& [key, xs] : groups) {
    const Run& any = *xs.front()->run;
    o += "\n### " + key.precision + " " + key.numerics + ", " + model_label(any) + "\n\n";
    o += "FLOPs/token " + fixed("%.4g", flops_per_token(any) / 1e6) + " M";
    std::set<std::string> bases;
    for (const Scaling* x : xs)
      if (x->base) bases.insert(x->base->id);
    if (!bases.empty()) {
      o += "; speed-up against ";
      bool first = true;
      for (const std::string& b : bases) {
        o += (first ? "`" : ", `") + b + "`";
        first = false;
      }
    } else {
      o += "; no 1-rank run to measure speed-up against";
    }
    o += ".\n\n";
    std::vector<std::string> head = {"layout", "ranks", "m×b"};
    if (var.seed) head.push_back("seed");
    for (const char* h : {"tokens/s", "speed-up", "efficiency", "MFU", "comm", "idle", "bubble"}) head.push_back(h);
    std::vector<bool> right(head.size(), true);
    right[0] = false;
    right[2] = false;
    o += md_row(head) + md_rule(right);
    for (const Scaling* x : xs) {
      const Run& r = *x->run;
      std::vector<std::string> line = {layout_label(r), std::to_string(r.ranks), batch_label(r)};
      if (var.seed) line.push_back(std::to_string(r.seed));
      line.push_back(fixed("%.0f", x->tps));
      line.push_back(fixed("%.2f", x->speedup));
      line.push_back(pct(x->efficiency));
      line.push_back(pct(x->mfu));
      line.push_back(pct(x->comm));
      line.push_back(pct(x->idle));
      line.push_back(pct(x->bubble));
      o += md_row(line);
    }
  }
  return o;
}

std::string scaling_csv(const Sweep& s, const Peak& peak) {
  std::string o = csv_row({"run_id", "model", "precision", "numerics", "dp", "tp", "pp", "schedule", "zero", "ranks",
                           "micro_batches", "micro_batch_size", "seed", "measured_steps", "tokens_per_second",
                           "baseline_run", "speedup", "efficiency", "flops_per_token", "peak_gflops", "mfu",
                           "comm_share", "idle_share", "theoretical_bubble"});
  for (const Scaling& x : scaling_rows(s, peak)) {
    const Run& r = *x.run;
    o += csv_row({r.id, r.model, r.precision, r.numerics, std::to_string(r.dp), std::to_string(r.tp),
                  std::to_string(r.pp), schedule_of(r).empty() ? "none" : schedule_of(r), std::to_string(r.zero),
                  std::to_string(r.ranks), csv_int(r.micro_batches), csv_int(r.micro_batch_size), csv_int(r.seed),
                  std::to_string(x.measured_steps), csv_num(x.tps), x.base ? x.base->id : "", csv_num(x.speedup),
                  csv_num(x.efficiency), csv_num(x.flops), csv_num(peak.gflops), csv_num(x.mfu), csv_num(x.comm),
                  csv_num(x.idle), csv_num(x.bubble)});
  }
  return o;
}

std::string full_markdown(const Sweep& s, const Peak& peak) {
  const std::string name = s.path.substr(s.path.rfind('/') == std::string::npos ? 0 : s.path.rfind('/') + 1);
  return "# parity report: " + name + "\n\n" + provenance_markdown(s) + "\n## Parity\n\n" + parity_markdown(s) +
         "\n## Scaling\n\n" + scaling_markdown(s, peak);
}

// ------------------------------------------------------------------------------------------- plots

std::vector<std::string> write_plots(const Sweep& s, const std::string& dir, bool png) {
  const Varying var = varying(s);
  std::map<GroupKey, std::vector<const Run*>> groups;
  std::vector<const Run*> sorted;
  for (const Run& r : s.runs) sorted.push_back(&r);
  std::sort(sorted.begin(), sorted.end(), layout_less);
  for (const Run* r : sorted) groups[group_of(*r, var.model)].push_back(r);

  std::vector<std::string> written;
  auto emit = [&](const std::string& name, const plot::Chart& c) {
    const std::string svg = dir + "/" + name + ".svg";
    write_text(svg, plot::render_svg(c));
    written.push_back(svg);
    if (png) {
      to_png(svg, dir + "/" + name + ".png");
      written.push_back(dir + "/" + name + ".png");
    }
  };

  // Loss curves: every run with a loss series; baselines first, thick and black, the rest thin on top.
  for (const auto& [key, runs] : groups) {
    plot::Chart c;
    c.title = "Loss, " + key.label();
    c.x_label = "step";
    c.integer_x = true;
    c.y_label = "loss";
    size_t bitwise = 0, n = 0, colour = 0;
    // The group's baseline(s); fast runs are judged against the exact baseline, so a group without one
    // draws its 1-rank run as the reference instead.
    const bool has_baseline =
        std::any_of(runs.begin(), runs.end(), [](const Run* r) { return r->parity == "baseline" && !r->loss.empty(); });
    for (int pass = 0; pass < 2; ++pass) {
      for (const Run* r : runs) {
        if (r->loss.empty()) continue;
        const bool is_base = has_baseline ? r->parity == "baseline" : r->ranks == 1;
        if (is_base != (pass == 0)) continue;
        plot::Series x;
        x.label = r->id;
        const std::string v = verdict(*r);
        if (!v.empty() && v != "baseline") x.label += " (" + v + ")";
        x.x = r->step;
        x.y = r->loss;
        if (is_base) {
          x.color = "#000000";
          x.width = 4;
        } else {
          x.color = plot::palette(colour++);
          x.width = 1.5;
          if (v == "bitwise") ++bitwise;
        }
        ++n;
        c.series.push_back(std::move(x));
      }
    }
    if (c.series.empty()) continue;
    c.subtitle = std::to_string(n) + (n == 1 ? " run" : " runs") + "; " +
                 (has_baseline ? "baseline" : "the 1-rank run") + " thick and black";
    if (bitwise > 0) c.subtitle += "; " + std::to_string(bitwise) + " bit-identical to it (their curves lie on it)";
    emit("loss-" + key.slug(), c);
  }

  // Scaling curves: tokens/s against ranks, one series per kind of parallelism (each starting at the
  // 1-rank run), and the ideal line from the 1-rank run.
  const Peak unused{kDefaultPeakGflops, ""};
  const std::vector<Scaling> rows = scaling_rows(s, unused);
  std::map<GroupKey, std::vector<const Scaling*>> sgroups;
  for (const Scaling& x : rows) sgroups[group_of(*x.run, var.model)].push_back(&x);
  for (const auto& [key, xs] : sgroups) {
    plot::Chart c;
    c.title = "Throughput, " + key.label();
    c.subtitle = "median tokens/s over the steps after the first";
    c.x_label = "ranks";
    c.y_label = "tokens/s";
    c.log2_x = true;
    c.y_from_zero = true;
    // Families: which degrees are > 1, plus schedule and ZeRO.
    std::map<std::string, std::vector<std::pair<double, double>>> fam;
    const Run* base = nullptr;
    double max_ranks = 1;
    for (const Scaling* x : xs) {
      const Run& r = *x->run;
      max_ranks = std::max(max_ranks, static_cast<double>(r.ranks));
      if (r.ranks == 1) {
        if (!base) base = &r;
        continue;
      }
      std::string f;
      if (r.dp > 1) f += "DP";
      if (r.tp > 1) f += std::string(f.empty() ? "" : "×") + "TP";
      if (r.pp > 1) f += std::string(f.empty() ? "" : "×") + "PP";
      if (!schedule_of(r).empty()) f += " " + schedule_of(r);
      if (r.zero > 0) f += " ZeRO-" + std::to_string(r.zero);
      if (var.batch) f += " " + batch_label(r);
      fam[f].emplace_back(static_cast<double>(r.ranks), x->tps);
      if (!base && x->base) base = x->base;
    }
    size_t colour = 0;
    if (base) {
      plot::Series ideal;
      ideal.label = "ideal (linear from " + base->id + ")";
      ideal.color = "#888888";
      ideal.dashed = true;
      ideal.width = 1.5;
      const double b = median_tokens_per_second(*base);
      for (double n = 1; n <= max_ranks * 1.0001; n *= 2) {
        ideal.x.push_back(n);
        ideal.y.push_back(b * n);
      }
      c.series.push_back(ideal);
    }
    for (auto& [f, pts] : fam) {
      std::stable_sort(pts.begin(), pts.end());
      plot::Series x;
      x.label = f;
      x.color = plot::palette(colour++);
      x.markers = true;
      x.width = 2;
      if (base) {
        x.x.push_back(1);
        x.y.push_back(median_tokens_per_second(*base));
      }
      for (const auto& [n, t] : pts) {
        x.x.push_back(n);
        x.y.push_back(t);
      }
      c.series.push_back(std::move(x));
    }
    if (fam.empty() && base) {
      plot::Series x;
      x.label = base->id;
      x.color = plot::palette(0);
      x.markers = true;
      x.x = {1};
      x.y = {median_tokens_per_second(*base)};
      c.series.push_back(std::move(x));
    }
    emit("scaling-" + key.slug(), c);
  }
  return written;
}

}  // namespace parity::report
