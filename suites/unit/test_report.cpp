// `parity report` on a small known sweep file, written here with parity::H5Writer in the layout of
// docs/hdf5-schema.md: the Markdown and CSV tables are compared with the expected text under
// suites/data/report/, the plots are checked for their structure (one SVG per precision/numerics, the
// legend, the polylines), and the peak and error rules are checked one by one.
//
// After an intended change of the output, regenerate the expected files with
//   PARITY_UPDATE_GOLDEN=1 build/suites/parity_unit_tests --gtest_filter='Report*'
// and review the diff (git diff suites/data/report). PARITY_KEEP_SWEEP=/tmp/sweep.h5 keeps a copy of the known
// sweep file for running `parity report` on it by hand.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "harness/merge.hpp"
#include "reference/h5io.hpp"

namespace {

using parity::H5Writer;
using parity::H5Reader;

struct Result {
  int rc = -1;
  std::string out, err;
};

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool exists(const std::string& p) { return ::access(p.c_str(), F_OK) == 0; }

std::string quote(const std::string& s) {
  std::string o = "'";
  for (char c : s) o += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return o + "'";
}

Result parity_run(const std::string& dir, const std::vector<std::string>& args, const std::string& env = "") {
  std::string cmd = env + (env.empty() ? "" : " ") + quote(PARITY_BINARY);
  for (const std::string& a : args) cmd += " " + quote(a);
  const std::string out = dir + "/stdout.txt", err = dir + "/stderr.txt";
  cmd += " >" + quote(out) + " 2>" + quote(err);
  const int st = std::system(cmd.c_str());
  Result r;
  r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

size_t count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}

const std::string kGolden = std::string(PARITY_SOURCE_DIR) + "/suites/data/report/";

// Compares `actual` with the expected file, or rewrites it when PARITY_UPDATE_GOLDEN is set.
void expect_golden(const std::string& name, const std::string& actual) {
  const std::string path = kGolden + name;
  if (std::getenv("PARITY_UPDATE_GOLDEN")) {
    std::ofstream(path, std::ios::binary) << actual;
    return;
  }
  ASSERT_TRUE(exists(path)) << "expected output " << path << " is missing (PARITY_UPDATE_GOLDEN=1 writes it)";
  EXPECT_EQ(actual, slurp(path)) << "output differs from " << path
                                 << " (PARITY_UPDATE_GOLDEN=1 rewrites it after an intended change)";
}

// ----------------------------------------------------------------------------------- the known sweep

struct KnownRun {
  std::string id;
  int64_t dp, tp, pp;
  std::string precision, numerics, schedule;
  int64_t zero;
  std::string parity, status;
  double step_s;        // seconds of every step after the first
  double comm_s;        // comm seconds of those steps
  double idle_s;        // idle seconds of those steps
  float loss_offset;    // added to the baseline's loss curve
};

// What a run group records beyond its definition, verdict and series: the trainer's pipeline figures
// (theoretical_bubble, idle_fraction, stage_idle; absent in files written before it recorded them) and its
// estimate of the machine's peak (peak_gflops, peak_source; absent when 0).
struct Recorded {
  bool pipeline = true;
  double peak_gflops = 0;
};

// The trainer's bubble: (p-1)/(m/dp+p-1) with m = 4 micro-batches over dp pipelines.
double trainer_bubble(const KnownRun& k) { return k.pp > 1 ? double(k.pp - 1) / (4.0 / double(k.dp) + double(k.pp - 1)) : 0.0; }

// tiny (L4 C128 H4 T64 V256), m = 4, b = 2: 512 tokens per step, 4 steps; the first step takes 0.5 s
// (warm-up, excluded from the medians).
void write_run(H5Writer& w, const KnownRun& k, const Recorded& rec = {}) {
  const std::string g = "/runs/" + k.id;
  w.attr(g, "dp", k.dp);
  w.attr(g, "tp", k.tp);
  w.attr(g, "pp", k.pp);
  w.attr(g, "precision", k.precision);
  w.attr(g, "numerics", k.numerics);
  w.attr(g, "schedule", k.schedule);
  w.attr(g, "zero", k.zero);
  w.attr(g, "micro_batches", int64_t{4});
  w.attr(g, "micro_batch_size", int64_t{2});
  w.attr(g, "model", "tiny");
  w.attr(g, "layers", int64_t{4});
  w.attr(g, "channels", int64_t{128});
  w.attr(g, "heads", int64_t{4});
  w.attr(g, "seq_len", int64_t{64});
  w.attr(g, "vocab", int64_t{256});
  w.attr(g, "data", "synthetic");
  w.attr(g, "seed", int64_t{1});
  w.attr(g, "steps", int64_t{4});
  w.attr(g, "lr", 1e-3);
  w.attr(g, "launcher", "local");
  w.attr(g, "ranks", k.dp * k.tp * k.pp);
  w.attr(g, "parity", k.parity);
  w.attr(g, "baseline", k.parity == "baseline" ? std::string("") : "dp1-tp1-pp1-" + k.precision + "-" + k.numerics);
  w.attr(g, "status", k.status);
  if (rec.pipeline) w.attr(g, "theoretical_bubble", trainer_bubble(k));
  if (k.status != "ok") {
    // A run that crashed or timed out has no verdict beyond "failed" and no differences.
    w.attr(g, "first_diff_step", int64_t{-1});
    w.attr(g, "first_diff_tensor", "");
  } else if (k.parity == "failed") {
    w.attr(g, "max_abs_diff", 0.0015);
    w.attr(g, "max_rel_diff", 0.00025);
    w.attr(g, "first_diff_step", int64_t{2});
    w.attr(g, "first_diff_tensor", "/grads/blocks.1.attn.proj.weight");
    w.attr(g, "note", "loss differs from the baseline at step 2");
  } else if (k.parity == "within-bound") {
    w.attr(g, "max_abs_diff", 3e-7);
    w.attr(g, "max_rel_diff", 1.25e-7);
    w.attr(g, "bound", 1e-5);
    w.attr(g, "first_diff_step", int64_t{1});
    w.attr(g, "first_diff_tensor", "loss");
  } else {
    w.attr(g, "max_abs_diff", 0.0);
    w.attr(g, "max_rel_diff", 0.0);
    w.attr(g, "first_diff_step", int64_t{-1});
    w.attr(g, "first_diff_tensor", "");
  }
  if (k.status != "ok") {
    w.attr(g, "output_tail",
           k.status == "crashed" ? "step 1/4 | loss 5.545177 | grad norm 1.0312\n[node1:01234] *** Process received "
                                   "signal ***\nparity: error: injected crash\n"
                                 : "step 1/4 | loss 5.545177 | grad norm 1.0312\n");
    return;  // a failed run has no per-step series
  }
  if (rec.pipeline) {
    // Stages idle 20% and 30% of the step: 25% on average.
    std::vector<double> stage_idle(static_cast<size_t>(k.pp), 0.0);
    if (k.pp > 1) stage_idle = {0.2, 0.3};
    w.attr(g, "idle_fraction", k.pp > 1 ? 0.25 : 0.0);
    w.write(g + "/stage_idle", stage_idle.data(), {stage_idle.size()});
  }
  if (rec.peak_gflops > 0) {
    w.attr(g, "peak_gflops", rec.peak_gflops);
    w.attr(g, "peak_source", "estimated, not measured: AVX-512, 3.12 GHz x 16 fp32 lanes x 2 flops per FMA x 2 FMA units");
  }
  const int64_t step[4] = {1, 2, 3, 4};
  const float base[4] = {5.5f, 5.25f, 5.0f, 4.875f};
  float loss[4], grad_norm[4] = {1.5f, 1.25f, 1.0f, 0.75f}, lr[4] = {2.5e-4f, 5e-4f, 7.5e-4f, 1e-3f},
                 scale[4] = {1, 1, 1, 1};
  double sec[4], tps[4], comm[4], idle[4], compute[4];
  for (int i = 0; i < 4; ++i) {
    loss[i] = base[i] + (i == 0 ? 0.0f : k.loss_offset * static_cast<float>(i));
    sec[i] = i == 0 ? 0.5 : k.step_s;
    comm[i] = i == 0 ? 0.0 : k.comm_s;
    idle[i] = i == 0 ? 0.0 : k.idle_s;
    compute[i] = sec[i] - comm[i] - idle[i];
    tps[i] = 512.0 / sec[i];
  }
  w.write(g + "/step", step, {4});
  w.write(g + "/loss", loss, {4});
  w.write(g + "/grad_norm", grad_norm, {4});
  w.write(g + "/lr", lr, {4});
  w.write(g + "/loss_scale", scale, {4});
  w.write(g + "/step_seconds", sec, {4});
  w.write(g + "/tokens_per_second", tps, {4});
  w.write(g + "/compute_seconds", compute, {4});
  w.write(g + "/comm_seconds", comm, {4});
  w.write(g + "/idle_seconds", idle, {4});
}

// The known sweep: fp32 exact (baseline, three bitwise layouts, one failed verdict, one crash) and fp32
// fast (baseline, one within bound, one timeout), two skipped layouts. With `measured_peak` the root records
// a measured peak_gflops; `rec` says what the runs record besides.
void write_known_sweep(const std::string& path, bool measured_peak, const Recorded& rec = {}) {
  H5Writer w(path);
  w.attr("/", "format", "parity-sweep-1");
  w.attr("/", "git_revision", "0123456789ab");
  w.attr("/", "compiler", "GNU 12.2.0");
  w.attr("/", "kokkos_backend", "Serial");
  w.attr("/", "mpi_library", "Open MPI v4.1.4");
  w.attr("/", "hosts", "node1");
  w.attr("/", "date", "2026-01-02T03:04:05Z");
  if (measured_peak) w.attr("/", "peak_gflops", 150.0);
  const std::vector<KnownRun> runs = {
      {"dp1-tp1-pp1-fp32-exact", 1, 1, 1, "fp32", "exact", "none", 0, "baseline", "ok", 0.1, 0, 0, 0},
      {"dp2-tp1-pp1-fp32-exact", 2, 1, 1, "fp32", "exact", "none", 0, "bitwise", "ok", 0.0625, 0.0125, 0, 0},
      {"dp1-tp2-pp1-fp32-exact", 1, 2, 1, "fp32", "exact", "none", 0, "bitwise", "ok", 0.064, 0.016, 0, 0},
      {"dp1-tp1-pp2-fp32-exact-1f1b", 1, 1, 2, "fp32", "exact", "1f1b", 0, "bitwise", "ok", 0.08, 0.004, 0.016, 0},
      {"dp2-tp2-pp2-fp32-exact-gpipe-z1", 2, 2, 2, "fp32", "exact", "gpipe", 1, "failed", "ok", 0.032, 0.008, 0.0064,
       0.015625f},
      {"dp1-tp1-pp4-fp32-exact-1f1b", 1, 1, 4, "fp32", "exact", "1f1b", 0, "failed", "crashed", 0, 0, 0, 0},
      {"dp1-tp1-pp1-fp32-fast", 1, 1, 1, "fp32", "fast", "none", 0, "baseline", "ok", 0.08, 0, 0, 0.0009765625f},
      {"dp2-tp1-pp1-fp32-fast", 2, 1, 1, "fp32", "fast", "none", 0, "within-bound", "ok", 0.05, 0.01, 0, 0.001953125f},
      {"dp1-tp2-pp1-fp32-fast", 1, 2, 1, "fp32", "fast", "none", 0, "failed", "timeout", 0, 0, 0, 0},
  };
  for (const KnownRun& k : runs) write_run(w, k, rec);
  // A skipped group with the run definition (as parity sweep writes it) gets a cell in the parity table;
  // one with only a reason is listed below it.
  const std::string sk = "/skipped/dp1-tp8-pp1-fp32-exact";
  w.attr(sk, "dp", int64_t{1});
  w.attr(sk, "tp", int64_t{8});
  w.attr(sk, "pp", int64_t{1});
  w.attr(sk, "precision", "fp32");
  w.attr(sk, "numerics", "exact");
  w.attr(sk, "schedule", "none");
  w.attr(sk, "zero", int64_t{0});
  w.attr(sk, "model", "tiny");
  w.attr(sk, "ranks", int64_t{8});
  w.attr(sk, "reason", "tp 8 does not divide heads 4");
  w.attr("/skipped/dp4-tp2-pp2-fp32-exact-1f1b", "reason", "16 ranks > max_ranks 8");
  w.commit();
}

class ReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "parity_report_XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    ASSERT_NE(::mkdtemp(buf.data()), nullptr);
    dir_ = buf.data();
    sweep_ = dir_ + "/sweep.h5";
    write_known_sweep(sweep_, /*measured_peak=*/false);
    // PARITY_KEEP_SWEEP=FILE.h5 keeps a copy of the known sweep, to look at its report by hand.
    if (const char* keep = std::getenv("PARITY_KEEP_SWEEP")) write_known_sweep(keep, /*measured_peak=*/false);
  }
  void TearDown() override { std::system(("rm -rf " + quote(dir_)).c_str()); }
  Result report(std::vector<std::string> args, const std::string& env = "") {
    args.insert(args.begin(), "report");
    return parity_run(dir_, args, env);
  }
  std::string dir_, sweep_;
};

TEST_F(ReportTest, MarkdownToStdoutMatchesTheExpectedText) {
  const Result r = report({sweep_, "--peak-gflops", "100"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.err, "");
  expect_golden("report.md", r.out);
}

TEST_F(ReportTest, CsvToStdoutMatchesTheExpectedText) {
  const Result r = report({sweep_, "--peak-gflops", "100", "--format", "csv"});
  ASSERT_EQ(r.rc, 0) << r.err;
  expect_golden("report.csv", r.out);
  // --table selects one of the two tables.
  const Result p = report({sweep_, "--peak-gflops", "100", "--format", "csv", "--table", "parity"});
  ASSERT_EQ(p.rc, 0) << p.err;
  EXPECT_EQ(p.out, r.out.substr(0, r.out.find("\n\n") + 1));
  const Result s = report({sweep_, "--peak-gflops", "100", "--format", "csv", "--table", "scaling"});
  ASSERT_EQ(s.rc, 0) << s.err;
  EXPECT_EQ(s.out, r.out.substr(r.out.find("\n\n") + 2));
}

TEST_F(ReportTest, OutDirHoldsTablesAndSvgPlots) {
  const std::string out = dir_ + "/out/nested";
  const Result r = report({sweep_, "--peak-gflops", "100", "--out", out});
  ASSERT_EQ(r.rc, 0) << r.err;
  for (const char* f : {"parity.md", "scaling.md", "parity.csv", "scaling.csv", "report.md"}) {
    EXPECT_TRUE(exists(out + "/" + f)) << f;
  }
  expect_golden("parity.md", slurp(out + "/parity.md"));
  expect_golden("scaling.md", slurp(out + "/scaling.md"));
  expect_golden("parity.csv", slurp(out + "/parity.csv"));
  expect_golden("scaling.csv", slurp(out + "/scaling.csv"));
  EXPECT_EQ(slurp(out + "/report.md"), r.out);

  // One loss plot and one scaling plot per precision/numerics; no PNG unless asked for.
  for (const char* f : {"loss-fp32-exact.svg", "loss-fp32-fast.svg", "scaling-fp32-exact.svg", "scaling-fp32-fast.svg"}) {
    const std::string svg = slurp(out + "/" + f);
    ASSERT_FALSE(svg.empty()) << f << " missing";
    EXPECT_EQ(svg.rfind("<?xml", 0), 0u) << f;
    EXPECT_NE(svg.find("<svg xmlns=\"http://www.w3.org/2000/svg\""), std::string::npos) << f;
    EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n") << f;
    EXPECT_EQ(count(svg, "<svg"), 1u);
    EXPECT_FALSE(exists(out + "/" + std::string(f).replace(std::string(f).size() - 3, 3, "png")));
  }
  EXPECT_EQ(r.err.rfind("parity report: wrote 9 files to " + out + ":", 0), 0u) << r.err;

  // Loss, exact: the baseline (thick, black) and the four other runs with data; the crashed run has none.
  const std::string loss = slurp(out + "/loss-fp32-exact.svg");
  EXPECT_EQ(count(loss, "<polyline"), 5u) << loss;
  EXPECT_NE(loss.find(">dp1-tp1-pp1-fp32-exact</text>"), std::string::npos);
  EXPECT_NE(loss.find(">dp2-tp1-pp1-fp32-exact (bitwise)</text>"), std::string::npos);
  EXPECT_NE(loss.find(">dp2-tp2-pp2-fp32-exact-gpipe-z1 (failed)</text>"), std::string::npos);
  EXPECT_EQ(loss.find("pp4"), std::string::npos) << "the crashed run has no loss curve";
  EXPECT_NE(loss.find("stroke=\"#000000\" stroke-width=\"4.0\""), std::string::npos) << "baseline drawn thicker";
  EXPECT_NE(loss.find("3 bit-identical to it"), std::string::npos);

  // Scaling, exact: the ideal line and one series per kind of parallelism, with markers.
  const std::string sc = slurp(out + "/scaling-fp32-exact.svg");
  EXPECT_NE(sc.find(">ideal (linear from dp1-tp1-pp1-fp32-exact)</text>"), std::string::npos) << sc;
  for (const char* fam : {">DP</text>", ">TP</text>", ">PP 1f1b</text>", ">DP×TP×PP gpipe ZeRO-1</text>"}) {
    EXPECT_NE(sc.find(fam), std::string::npos) << fam;
  }
  EXPECT_EQ(count(sc, "<polyline"), 5u);
  EXPECT_NE(sc.find("stroke-dasharray"), std::string::npos);
  // Ticks at powers of two on the ranks axis.
  for (const char* t : {">1</text>", ">2</text>", ">4</text>", ">8</text>"}) EXPECT_NE(sc.find(t), std::string::npos) << t;

  // --plots none writes only the tables.
  const std::string out2 = dir_ + "/out2";
  ASSERT_EQ(report({sweep_, "--out", out2, "--plots", "none"}).rc, 0);
  EXPECT_TRUE(exists(out2 + "/parity.csv"));
  EXPECT_FALSE(exists(out2 + "/loss-fp32-exact.svg"));
}

TEST_F(ReportTest, PngNeedsAConverterAndSaysSo) {
  // Converters that fail (first on PATH): the error names both tools, what they said, and the way out.
  const std::string bin = dir_ + "/fakebin";
  ASSERT_EQ(std::system(("mkdir -p " + quote(bin)).c_str()), 0);
  for (const char* tool : {"rsvg-convert", "convert"}) {
    std::ofstream(bin + "/" + tool) << "#!/bin/sh\necho \"" << tool << ": no SVG support\" >&2\nexit 3\n";
    ASSERT_EQ(std::system(("chmod +x " + quote(bin + "/" + tool)).c_str()), 0);
  }
  const Result r = report({sweep_, "--out", dir_ + "/png", "--plots", "png"}, "PATH=" + quote(bin) + ":\"$PATH\"");
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.err.find("parity: error: --plots png: cannot convert " + dir_ + "/png/loss-fp32-exact.svg to PNG"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("rsvg-convert: exit status 3 (rsvg-convert: no SVG support)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("convert: exit status 3 (convert: no SVG support)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Install librsvg2-bin (rsvg-convert) or imagemagick (convert), or use --plots svg"),
            std::string::npos)
      << r.err;

  // Where rsvg-convert is installed, PNGs are written next to the SVGs.
  if (std::system("command -v rsvg-convert >/dev/null 2>&1") == 0) {
    const Result ok = report({sweep_, "--out", dir_ + "/png2", "--plots", "png"});
    ASSERT_EQ(ok.rc, 0) << ok.err;
    const std::string png = slurp(dir_ + "/png2/loss-fp32-exact.png");
    ASSERT_GT(png.size(), 8u);
    EXPECT_EQ(png.substr(1, 3), "PNG");
  }
}

TEST_F(ReportTest, PeakComesFromTheFlagThenTheSweepThenTheRunsElseThereIsNone) {
  const std::string measured = dir_ + "/measured.h5", recorded = dir_ + "/recorded.h5", both = dir_ + "/both.h5";
  write_known_sweep(measured, /*measured_peak=*/true);
  write_known_sweep(recorded, /*measured_peak=*/false, Recorded{true, 200.0});
  write_known_sweep(both, /*measured_peak=*/true, Recorded{true, 200.0});
  // The baseline's row up to its MFU: 5120 tokens/s · 5,349,888 FLOPs/token / peak.
  const std::string row = "| dp1·tp1·pp1 | 1 | 4×2 | 5120 | 1.00 | 100.0% | ";

  // Nothing known: no MFU, and the note says why rather than assuming a machine.
  const Result none = report({sweep_, "--table", "scaling"});
  ASSERT_EQ(none.rc, 0) << none.err;
  EXPECT_NE(none.out.find("- peak: unknown (no --peak-gflops, and the file records no peak_gflops), so MFU is not "
                          "computed"),
            std::string::npos)
      << none.out;
  EXPECT_NE(none.out.find(row + "— |"), std::string::npos) << none.out;
  const Result none_csv = report({sweep_, "--table", "scaling", "--format", "csv"});
  EXPECT_NE(none_csv.out.find(",5349888,,,"), std::string::npos) << none_csv.out;

  // The runs' own estimate: 5120 · 5349888 / 200e9 = 13.7%.
  const Result rec = report({recorded, "--table", "scaling"});
  EXPECT_NE(rec.out.find("- peak: 200 GFLOP/s per rank, recorded with the runs (estimated, not measured: AVX-512"),
            std::string::npos)
      << rec.out;
  EXPECT_NE(rec.out.find(row + "13.7% |"), std::string::npos) << rec.out;

  // The sweep's measured peak wins over the runs' estimate: 150 GFLOP/s, 18.3%.
  const Result file_md = report({both, "--table", "scaling"});
  EXPECT_NE(file_md.out.find("- peak: 150 GFLOP/s per rank (measured, from the file)"), std::string::npos) << file_md.out;
  EXPECT_NE(file_md.out.find(row + "18.3% |"), std::string::npos) << file_md.out;
  const Result file = report({measured, "--table", "scaling", "--format", "csv"});
  EXPECT_NE(file.out.find(",5349888,150,"), std::string::npos) << file.out;

  // The flag wins over both: 100 GFLOP/s, 27.4%.
  const Result flag = report({both, "--peak-gflops", "100", "--table", "scaling"});
  EXPECT_NE(flag.out.find("- peak: 100 GFLOP/s per rank (--peak-gflops)"), std::string::npos) << flag.out;
  EXPECT_NE(flag.out.find(row + "27.4% |"), std::string::npos) << flag.out;
  const Result flag_csv = report({both, "--table", "scaling", "--format", "csv", "--peak-gflops", "50"});
  EXPECT_NE(flag_csv.out.find(",5349888,50,"), std::string::npos) << flag_csv.out;
}

// One pipelined run, dp2·pp2 with m = 4 (2 micro-batches per pipeline), in a results file.
std::string write_dp2_pp2(const std::string& path, const Recorded& rec, double bubble) {
  H5Writer w(path);
  w.attr("/", "format", "parity-results-1");
  const KnownRun k{"dp2-tp1-pp2-fp32-exact-1f1b", 2, 1, 2, "fp32", "exact", "1f1b", 0, "", "ok", 0.05, 0.005, 0.01, 0};
  write_run(w, k, rec);
  if (bubble >= 0) w.attr("/runs/" + k.id, "theoretical_bubble", bubble);
  w.commit();
  return path;
}

TEST_F(ReportTest, TheRecordedBubbleAndIdleAreReportedAsRecorded) {
  // A recorded bubble is taken as it is, even where the report's formula would give another (1/3 here).
  const std::string path = write_dp2_pp2(dir_ + "/recorded.h5", Recorded{}, 0.4);
  const Result md = report({path, "--peak-gflops", "100", "--table", "scaling"});
  ASSERT_EQ(md.rc, 0) << md.err;
  // idle: the recorded idle_fraction (25%), not rank 0's idle_seconds (20%).
  EXPECT_NE(md.out.find("| dp2·tp1·pp2 · 1f1b | 4 | 4×2 | 10240 | — | — | 13.7% | 10.0% | 25.0% | 40.0% |"),
            std::string::npos)
      << md.out;
  EXPECT_EQ(md.out.find("bubble computed by the report"), std::string::npos) << md.out;
  const Result csv = report({path, "--peak-gflops", "100", "--table", "scaling", "--format", "csv"});
  EXPECT_NE(csv.out.find(",0.25,0.4,recorded,0.2;0.3\n"), std::string::npos) << csv.out;
}

TEST_F(ReportTest, AnOlderFileGetsTheBubbleComputedWithTheMicroBatchesPerPipeline) {
  // No theoretical_bubble, idle_fraction or stage_idle: (p-1)/(m/dp+p-1) = 1/(4/2+1) = 33.3%, marked as
  // computed; idle from rank 0's idle_seconds (0.01 of 0.05 s).
  const std::string path = write_dp2_pp2(dir_ + "/old.h5", Recorded{false, 0}, -1);
  const Result md = report({path, "--peak-gflops", "100", "--table", "scaling"});
  ASSERT_EQ(md.rc, 0) << md.err;
  EXPECT_NE(md.out.find("| 10.0% | 20.0% | 33.3%\\* |"), std::string::npos) << md.out;
  EXPECT_NE(md.out.find("\\* bubble computed by the report as (p−1)/(m/dp+p−1): the file does not record the "
                        "trainer's theoretical_bubble"),
            std::string::npos)
      << md.out;
  const Result csv = report({path, "--peak-gflops", "100", "--table", "scaling", "--format", "csv"});
  EXPECT_NE(csv.out.find(",0.2,0.333333333,computed,\n"), std::string::npos) << csv.out;

  // The whole known sweep without the figures: pp2 alone (m = 4 per pipeline) 20%, dp2·tp2·pp2 33.3%.
  const std::string sweep = dir_ + "/old-sweep.h5";
  write_known_sweep(sweep, false, Recorded{false, 0});
  const Result s = report({sweep, "--peak-gflops", "100", "--table", "scaling"});
  EXPECT_NE(s.out.find("| dp1·tp1·pp2 · 1f1b | 2 | 4×2 | 6400 | 1.25 | 62.5% | 17.1% | 5.0% | 20.0% | 20.0%\\* |"),
            std::string::npos)
      << s.out;
  EXPECT_NE(s.out.find("| 10.7% | 25.0% | 20.0% | 33.3%\\* |"), std::string::npos) << s.out;
}

TEST_F(ReportTest, IdleFallsBackToTheStagesWhenTheMeanIsNotRecorded) {
  const std::string path = dir_ + "/stages.h5";
  {
    H5Writer w(path);
    w.attr("/", "format", "parity-results-1");
    const KnownRun k{"dp1-tp1-pp2-fp32-exact-1f1b", 1, 1, 2, "fp32", "exact", "1f1b", 0, "", "ok", 0.05, 0, 0.01, 0};
    write_run(w, k, Recorded{false, 0});
    const double stages[2] = {0.1, 0.3};
    w.write("/runs/" + k.id + "/stage_idle", stages, {2});
    w.commit();
  }
  const Result md = report({path, "--peak-gflops", "100", "--table", "scaling"});
  ASSERT_EQ(md.rc, 0) << md.err;
  EXPECT_NE(md.out.find("| 0.0% | 20.0% | 20.0%\\* |"), std::string::npos) << md.out;
  const Result csv = report({path, "--peak-gflops", "100", "--table", "scaling", "--format", "csv"});
  EXPECT_NE(csv.out.find(",0,0.2,0.2,computed,0.1;0.3\n"), std::string::npos) << csv.out;
}

TEST_F(ReportTest, MergingARunKeepsWhatTheTrainerRecorded) {
  // The sweep copies a run's group whole from its results file and sets its own attributes on top: the
  // pipeline figures and the peak estimate must come through, and the report must read them.
  const std::string results = write_dp2_pp2(dir_ + "/results.h5", Recorded{true, 200.0}, 0.4);
  const std::string merged = dir_ + "/merged.h5";
  const std::string id = "dp2-tp1-pp2-fp32-exact-1f1b";
  parity::sweep::MergeGroup g{"/runs/" + id + "-s1", results, "/runs/" + id,
                              {{"parity", std::string("bitwise")}, {"status", std::string("ok")}, {"ranks", int64_t{4}}}};
  parity::sweep::write_merged(merged, {{"format", std::string("parity-sweep-1")}}, {g});
  const H5Reader r(merged);
  const std::string m = "/runs/" + id + "-s1";
  EXPECT_DOUBLE_EQ(r.attr_double(m, "theoretical_bubble"), 0.4);
  EXPECT_DOUBLE_EQ(r.attr_double(m, "idle_fraction"), 0.25);
  EXPECT_EQ(r.read_double(m + "/stage_idle"), (std::vector<double>{0.2, 0.3}));
  EXPECT_DOUBLE_EQ(r.attr_double(m, "peak_gflops"), 200.0);
  EXPECT_EQ(r.attr_string(m, "peak_source").rfind("estimated, not measured: AVX-512", 0), 0u);
  EXPECT_EQ(r.attr_string(m, "parity"), "bitwise");

  const Result csv = report({merged, "--table", "scaling", "--format", "csv"});
  ASSERT_EQ(csv.rc, 0) << csv.err;
  EXPECT_NE(csv.out.find(",5349888,200,"), std::string::npos) << csv.out;
  EXPECT_NE(csv.out.find(",0.25,0.4,recorded,0.2;0.3\n"), std::string::npos) << csv.out;
}

TEST_F(ReportTest, ATrainResultsFileHasNoVerdictsButAScalingRow) {
  const std::string path = dir_ + "/results.h5";
  {
    H5Writer w(path);
    w.attr("/", "format", "parity-results-1");
    KnownRun k{"dp1-tp1-pp1-fp32-exact", 1, 1, 1, "fp32", "exact", "none", 0, "", "ok", 0.1, 0, 0, 0};
    write_run(w, k);
    w.commit();
  }
  const Result r = report({path});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("1 run: 1 no verdict (a parity train results file: no baseline, no verdicts)."),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("| dp1·tp1·pp1 | 1 | — |"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| dp1·tp1·pp1 | 1 | 4×2 | 5120 | 1.00 |"), std::string::npos) << r.out;
}

TEST_F(ReportTest, BadInputIsAnErrorNamingTheFile) {
  {
    H5Writer w(dir_ + "/ckpt.h5");
    const float x = 1;
    w.write("/params/wte", &x, {1});
    w.attr("/", "format", "parity-checkpoint-1");
    w.commit();
    H5Writer n(dir_ + "/noformat.h5");
    n.write("/x", &x, {1});
    n.commit();
  }
  const Result ck = report({dir_ + "/ckpt.h5"});
  EXPECT_NE(ck.rc, 0);
  EXPECT_NE(ck.err.find("parity: error: " + dir_ + "/ckpt.h5 has format 'parity-checkpoint-1'"), std::string::npos)
      << ck.err;
  const Result nf = report({dir_ + "/noformat.h5"});
  EXPECT_NE(nf.rc, 0);
  EXPECT_NE(nf.err.find("is not a parity sweep file: the root has no format attribute"), std::string::npos) << nf.err;
  const Result missing = report({dir_ + "/missing.h5"});
  EXPECT_NE(missing.rc, 0);
  EXPECT_NE(missing.err.find("cannot open HDF5 file " + dir_ + "/missing.h5"), std::string::npos) << missing.err;
  const Result plots = report({sweep_, "--plots", "svg"});
  EXPECT_NE(plots.rc, 0);
  EXPECT_NE(plots.err.find("--plots svg needs --out DIR"), std::string::npos) << plots.err;
  const Result fmt = report({sweep_, "--format", "html"});
  EXPECT_NE(fmt.rc, 0);
}

}  // namespace
