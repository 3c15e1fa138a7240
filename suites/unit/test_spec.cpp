// Sweep specifications (harness/spec.hpp): parsing, bad input, grid expansion and skip reasons; and the
// sweep's verdict (harness/verdict.hpp) as the merged file spells it.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <numeric>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "harness/spec.hpp"
#include "harness/verdict.hpp"
#include "kernels/error.hpp"
#include "reference/numerics_bound.hpp"

namespace {

using parity::Error;
using parity::sweep::expand;
using parity::sweep::ExpandOptions;
using parity::sweep::Expansion;
using parity::sweep::parse_spec;
using parity::sweep::RunDef;
using parity::sweep::Spec;

const std::string kBase =
    "model = \"tiny\"\n"       // line 1
    "steps = 2\n"              // line 2
    "micro_batches = 4\n"      // line 3
    "micro_batch_size = 2\n";  // line 4

// The message of the parity::Error that `f` throws ("" if it throws none).
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::string parse_error(const std::string& text) {
  return error_of([&] { parse_spec(text, "s.toml"); });
}
std::string expand_error(const std::string& text, int max_ranks = 8) {
  return error_of([&] {
    ExpandOptions o;
    o.max_ranks = max_ranks;
    expand(parse_spec(text, "s.toml"), o);
  });
}
Expansion expand_text(const std::string& text, int max_ranks = 8) {
  ExpandOptions o;
  o.max_ranks = max_ranks;
  return expand(parse_spec(text, "s.toml"), o);
}

std::set<std::string> ids(const Expansion& x) {
  std::set<std::string> s;
  for (const auto& r : x.runs) s.insert(r.id);
  return s;
}
const RunDef* find(const Expansion& x, const std::string& id) {
  for (const auto& r : x.runs)
    if (r.id == id) return &r;
  return nullptr;
}
std::string skip_reason(const Expansion& x, const std::string& id) {
  for (const auto& s : x.skipped)
    if (s.id == id) return s.reason;
  return "";
}

#define EXPECT_CONTAINS(haystack, needle) \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << "in: " << (haystack)

// ---------------------------------------------------------------------------------------------------------
// Parsing

TEST(SpecParse, MinimalSpecTakesTheTrainerDefaults) {
  const Spec s = parse_spec("model = \"tiny\"\n", "s.toml");
  EXPECT_EQ(s.base.model_name, "tiny");
  EXPECT_EQ(s.base.model.L, 4);
  EXPECT_EQ(s.base.model.C, 128);
  EXPECT_EQ(s.base.data, "synthetic");
  EXPECT_EQ(s.seeds, std::vector<uint64_t>{1});
  EXPECT_EQ(s.grid.dp, std::vector<int>{1});
  EXPECT_EQ(s.grid.numerics, std::vector<parity::Numerics>{parity::Numerics::exact});
  EXPECT_DOUBLE_EQ(s.fast_loss_bound, 1e-4);
  EXPECT_EQ(s.text, "model = \"tiny\"\n");
}

TEST(SpecParse, EveryKey) {
  const Spec s = parse_spec(
      "name = \"x\"\ndescription = \"d\"\n"
      "[model]\npreset = \"small\"\nlayers = 2\nchannels = 64\nheads = 2\nseq_len = 32\nvocab = 300\n"
      "[grid]\ndp = [1, 2, 2]\ntp = 2\npp = [1, 2]\nzero = [0, 1]\nprecision = [\"fp32\"]\n"
      "numerics = [\"exact\", \"fast\"]\nschedule = [\"gpipe\", \"1f1b\"]\nbatch = [\"strong\", \"weak\"]\n",
      "s.toml");
  EXPECT_EQ(s.name, "x");
  EXPECT_EQ(s.base.model_name, "small");
  EXPECT_EQ(s.base.model.L, 2);
  EXPECT_EQ(s.base.model.C, 64);
  EXPECT_EQ(s.base.model.H, 2);
  EXPECT_EQ(s.base.model.T, 32);
  EXPECT_EQ(s.base.model.V, 300);
  EXPECT_EQ(s.grid.dp, (std::vector<int>{1, 2}));  // duplicates dropped
  EXPECT_EQ(s.grid.tp, std::vector<int>{2});        // a scalar is a list of one
  EXPECT_EQ(s.grid.schedule, (std::vector<parity::ScheduleKind>{parity::ScheduleKind::gpipe, parity::ScheduleKind::one_f_one_b}));
  EXPECT_EQ(s.grid.batch, (std::vector<std::string>{"strong", "weak"}));

  const Spec t = parse_spec(kBase +
                                "data = \"synthetic:128\"\nseeds = [3, 4]\nlr = 1e-3\nwarmup = 2\nlr_min_frac = 0.5\n"
                                "weight_decay = 0\ngrad_clip = 0.5\ncheck_consistency = 1\nfast_loss_bound = 1e-5\n"
                                "extra_args = [\"--quiet\"]\n"
                                "[extra_args_by_run]\n\"dp1-tp1-pp1-fp32-exact\" = [\"--quiet\"]\n",
                            "s.toml");
  EXPECT_EQ(t.base.data, "synthetic:128");
  EXPECT_EQ(t.seeds, (std::vector<uint64_t>{3, 4}));
  EXPECT_FLOAT_EQ(t.base.lr, 1e-3f);
  EXPECT_EQ(t.base.warmup, 2);
  EXPECT_FLOAT_EQ(t.base.lr_min_frac, 0.5f);
  EXPECT_FLOAT_EQ(t.base.adam.weight_decay, 0.0f);
  EXPECT_FLOAT_EQ(t.base.grad_clip, 0.5f);
  EXPECT_EQ(t.base.check_consistency, 1);
  EXPECT_DOUBLE_EQ(t.fast_loss_bound, 1e-5);
  EXPECT_EQ(t.extra_args, std::vector<std::string>{"--quiet"});
  EXPECT_EQ(t.extra_args_by_run.at("dp1-tp1-pp1-fp32-exact"), std::vector<std::string>{"--quiet"});
}

TEST(SpecParse, LayoutPatterns) {
  const Spec s = parse_spec(kBase + "[grid]\nlayouts = [\"dp2-tp2-pp2-gpipe-z1\", \"tp4\", \"pp2-1f1b\"]\n", "s.toml");
  ASSERT_EQ(s.grid.layouts.size(), 3u);
  const auto& a = s.grid.layouts[0];
  EXPECT_EQ(a.dp, 2);
  EXPECT_EQ(a.tp, 2);
  EXPECT_EQ(a.pp, 2);
  EXPECT_EQ(a.schedule, parity::ScheduleKind::gpipe);
  EXPECT_EQ(a.zero, 1);
  EXPECT_EQ(a.line, 6);
  EXPECT_EQ(s.grid.layouts[1].dp, 0);  // not named: from the grid's lists
  EXPECT_EQ(s.grid.layouts[1].zero, -1);
  EXPECT_EQ(s.grid.layouts[2].schedule, parity::ScheduleKind::one_f_one_b);
  EXPECT_FALSE(s.grid.layouts[1].schedule);
}

TEST(SpecParse, MissingModel) {
  const std::string e = parse_error("steps = 2\n[grid]\ndp = [1, 2]\n");
  EXPECT_CONTAINS(e, "s.toml: the spec names no model");
  EXPECT_CONTAINS(parse_error("[model]\nlayers = 2\n"), "s.toml:1: [model] needs 'preset'");
  EXPECT_CONTAINS(parse_error("model = \"huge\"\n"), "s.toml:1: key 'model': unknown model preset 'huge'");
  EXPECT_CONTAINS(parse_error("model = 3\n"), "s.toml:1: key 'model' must be a preset name");
}

TEST(SpecParse, UnknownKeysNameFileLineAndKey) {
  EXPECT_CONTAINS(parse_error(kBase + "stepz = 3\n"), "s.toml:5: unknown key 'stepz' (known: name,");
  EXPECT_CONTAINS(parse_error(kBase + "[grid]\ndp = [1]\nep = [2]\n"), "s.toml:7: unknown key 'ep' in [grid]");
  EXPECT_CONTAINS(parse_error("[model]\npreset = \"tiny\"\nlayer = 2\n"), "s.toml:3: unknown key 'layer' in [model]");
}

TEST(SpecParse, TypeErrorsNameTheKeyAndType) {
  EXPECT_CONTAINS(parse_error("model = \"tiny\"\nsteps = \"3\"\n"), "s.toml:2: key 'steps' must be an integer (got a string)");
  EXPECT_CONTAINS(parse_error("model = \"tiny\"\nsteps = 2.0\n"), "s.toml:2: key 'steps' must be an integer (got a float)");
  EXPECT_CONTAINS(parse_error("model = \"tiny\"\nlr = \"fast\"\n"), "s.toml:2: key 'lr' must be a number (got a string)");
  EXPECT_CONTAINS(parse_error("model = \"tiny\"\nseeds = [1, 1.5]\n"), "s.toml:2: key 'seeds' must be an integer (got a float)");
  EXPECT_CONTAINS(parse_error("model = \"tiny\"\n[grid]\ndp = [\"2\"]\n"), "s.toml:3: key 'grid.dp' must be an integer (got a string)");
  EXPECT_CONTAINS(parse_error("model = \"tiny\"\n[grid]\nnumerics = [\"exactly\"]\n"),
                  "s.toml:3: key 'grid.numerics' = \"exactly\" is not one of exact, fast");
  EXPECT_CONTAINS(parse_error("model = \"tiny\"\n[grid]\nzero = [2]\n"), "key 'grid.zero' = 2 is out of range [0, 1]");
  EXPECT_CONTAINS(parse_error("model = \"tiny\"\n[grid]\ntp = [0]\n"), "key 'grid.tp' = 0 is out of range");
  EXPECT_CONTAINS(parse_error("model = \"tiny\"\n[grid]\ndp = []\n"), "s.toml:3: key 'grid.dp' is an empty list");
  EXPECT_CONTAINS(parse_error("model = \"tiny\"\ngrid = 3\n"), "s.toml:2: key 'grid' must be a table");
  EXPECT_CONTAINS(parse_error("model = \"tiny\"\nextra_args = \"--quiet\"\n"), "key 'extra_args' must be an array of strings");
  EXPECT_CONTAINS(parse_error("model = \"tiny\"\nfast_loss_bound = -1\n"), "key 'fast_loss_bound' must be a relative difference");
  EXPECT_CONTAINS(parse_error("model = \"tiny\"\n[grid]\nlayouts = [\"dp2-xp2\"]\n"),
                  "s.toml:3: grid.layouts entry \"dp2-xp2\": unknown part 'xp2'");
  EXPECT_CONTAINS(parse_error("model = \"tiny\"\n[grid]\nlayouts = [\"dp2-dp4\"]\n"), "dp given twice");
  EXPECT_CONTAINS(parse_error("[model]\npreset = \"tiny\"\nchannels = 100\n"), "must be a multiple of 32");
}

TEST(SpecParse, TomlSyntaxErrorHasLineAndColumn) {
  const std::string e = parse_error("model = \"tiny\"\nsteps = = 2\n");
  EXPECT_CONTAINS(e, "s.toml:2:");
  EXPECT_CONTAINS(e, "TOML syntax error");
}

TEST(SpecParse, MissingFile) {
  const std::string e = error_of([] { parity::sweep::parse_spec_file("/nonexistent/spec.toml"); });
  EXPECT_CONTAINS(e, "cannot read sweep spec /nonexistent/spec.toml");
}

// ---------------------------------------------------------------------------------------------------------
// Impossible grids: a value that can never run is an error naming it, not a skip.

TEST(SpecExpand, TpThatDoesNotDivideHeads) {
  const std::string e = expand_error(kBase + "[grid]\ntp = [1, 3]\n");
  EXPECT_CONTAINS(e, "s.toml:6: key 'grid.tp' = 3 can never run: heads H=4 do not split over --tp 3");
}

TEST(SpecExpand, DpThatDoesNotDivideMicroBatches) {
  const std::string e = expand_error(kBase + "[grid]\ndp = [1, 2, 8]\n");
  EXPECT_CONTAINS(e, "s.toml:6: key 'grid.dp' = 8 can never run: --micro-batches 4 does not split over --dp 8");
}

TEST(SpecExpand, ExactModeWithNonPowerOfTwo) {
  // 6 heads of 64 channels: tp 3 divides the shapes, but exact mode needs powers of two.
  const std::string model = "[model]\npreset = \"tiny\"\nchannels = 384\nheads = 6\n";
  const std::string e = expand_error("steps = 2\nmicro_batches = 4\n" + model + "[grid]\ntp = [1, 3]\n");
  EXPECT_CONTAINS(e, "s.toml:8: key 'grid.tp' = 3 can never run: exact mode needs --dp and --tp to be powers of two");
  // With fast numerics in the grid, tp 3 runs there and the exact point is a skip with the trainer's reason.
  const Expansion x = expand_text("steps = 2\nmicro_batches = 4\n" + model + "[grid]\ntp = [1, 3]\nnumerics = [\"exact\", \"fast\"]\n");
  EXPECT_CONTAINS(skip_reason(x, "dp1-tp3-pp1-fp32-exact-s1"), "powers of two");
  EXPECT_NE(find(x, "dp1-tp3-pp1-fp32-fast-s1"), nullptr);
  // A micro-batch count that is not a power of two: the exact baseline itself cannot run.
  const std::string m = expand_error("model = \"tiny\"\nmicro_batches = 3\n[grid]\nnumerics = [\"fast\"]\n");
  EXPECT_CONTAINS(m, "s.toml:2: key 'micro_batches': the single-device exact baseline (fp32)");
  EXPECT_CONTAINS(m, "is not a power of two");
}

TEST(SpecExpand, PpThatDoesNotDivideLayers) {
  EXPECT_CONTAINS(expand_error(kBase + "[grid]\npp = [1, 3]\n"),
                  "s.toml:6: key 'grid.pp' = 3 can never run: 4 layers do not split evenly over --pp 3");
}

TEST(SpecExpand, LayoutEntryThatNeverRuns) {
  EXPECT_CONTAINS(expand_error(kBase + "[grid]\nlayouts = [\n  \"dp2\",\n  \"tp8\",\n]\n"),
                  "s.toml:8: grid.layouts entry \"tp8\" can never run: heads H=4 do not split over --tp 8");
}

// ---------------------------------------------------------------------------------------------------------
// Expansion

TEST(SpecExpand, CartesianProductWithBaselineFirst) {
  const Expansion x = expand_text(kBase + "[grid]\ndp = [1, 2]\ntp = [1, 2]\nnumerics = [\"exact\", \"fast\"]\n");
  // 2 x 2 x 2 = 8 points; the exact single-device point is the baseline.
  ASSERT_EQ(x.runs.size(), 8u);
  EXPECT_TRUE(x.skipped.empty());
  EXPECT_EQ(x.merged_duplicates, 0);
  EXPECT_TRUE(x.runs[0].baseline);
  EXPECT_EQ(x.runs[0].id, "dp1-tp1-pp1-fp32-exact-s1");
  EXPECT_EQ(x.runs[0].baseline_id, x.runs[0].id);
  EXPECT_EQ(x.runs[0].ranks(), 1);
  for (const auto& r : x.runs) {
    EXPECT_EQ(r.baseline_id, "dp1-tp1-pp1-fp32-exact-s1");
    EXPECT_EQ(r.bound, r.config.numerics == parity::Numerics::exact ? 0.0 : 1e-4) << r.id;
  }
  const RunDef* f = find(x, "dp2-tp2-pp1-fp32-fast-s1");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->ranks(), 4);
  EXPECT_EQ(f->train_id, "dp2-tp2-pp1-fp32-fast");
  EXPECT_FALSE(f->baseline);
}

TEST(SpecExpand, BaselineAddedWhenTheGridLacksIt) {
  const Expansion x = expand_text(kBase + "seeds = [1, 2]\n[grid]\ndp = [2]\nnumerics = [\"fast\"]\n");
  EXPECT_EQ(ids(x), (std::set<std::string>{"dp1-tp1-pp1-fp32-exact-s1", "dp1-tp1-pp1-fp32-exact-s2",
                                           "dp2-tp1-pp1-fp32-fast-s1", "dp2-tp1-pp1-fp32-fast-s2"}));
  EXPECT_TRUE(find(x, "dp1-tp1-pp1-fp32-exact-s2")->baseline);
  EXPECT_EQ(find(x, "dp2-tp1-pp1-fp32-fast-s2")->baseline_id, "dp1-tp1-pp1-fp32-exact-s2");
  EXPECT_EQ(find(x, "dp2-tp1-pp1-fp32-fast-s2")->config.seed, 2u);
  EXPECT_TRUE(x.runs[0].baseline && x.runs[1].baseline);  // baselines first
}

TEST(SpecExpand, DuplicatesMerged) {
  // schedule has no effect with pp = 1, zero none with dp = 1.
  const Expansion x = expand_text(kBase + "[grid]\ndp = [1, 2]\npp = [1, 2]\nschedule = [\"gpipe\", \"1f1b\"]\nzero = [0, 1]\n");
  EXPECT_EQ(ids(x), (std::set<std::string>{"dp1-tp1-pp1-fp32-exact-s1", "dp2-tp1-pp1-fp32-exact-s1",
                                           "dp2-tp1-pp1-fp32-exact-z1-s1", "dp1-tp1-pp2-fp32-exact-gpipe-s1",
                                           "dp1-tp1-pp2-fp32-exact-1f1b-s1", "dp2-tp1-pp2-fp32-exact-gpipe-s1",
                                           "dp2-tp1-pp2-fp32-exact-1f1b-s1", "dp2-tp1-pp2-fp32-exact-gpipe-z1-s1",
                                           "dp2-tp1-pp2-fp32-exact-1f1b-z1-s1"}));
  EXPECT_EQ(x.runs.size(), 9u);
  EXPECT_EQ(x.merged_duplicates, 16 - 9);
}

TEST(SpecExpand, TooManyRanksIsASkip) {
  const Expansion x = expand_text(kBase + "[grid]\ndp = [1, 2]\ntp = [1, 2, 4]\n", 4);
  EXPECT_EQ(x.runs.size(), 5u);
  ASSERT_EQ(x.skipped.size(), 1u);
  EXPECT_EQ(x.skipped[0].id, "dp2-tp4-pp1-fp32-exact-s1");
  EXPECT_EQ(x.skipped[0].reason, "needs 8 ranks, more than --max-ranks 4");
  // Only --max-ranks: every layout with tp 4 skipped is not an error (a limit of this machine, not of the spec).
  const Expansion y = expand_text(kBase + "[grid]\ntp = [1, 4]\n", 2);
  EXPECT_EQ(y.skipped.size(), 1u);
}

TEST(SpecExpand, LayoutsFixTheirAxesAndTakeTheRestFromTheGrid) {
  const Expansion x = expand_text(kBase + "[grid]\nlayouts = [\"dp1\", \"dp2\", \"tp2-pp2\"]\nschedule = [\"gpipe\", \"1f1b\"]\n"
                                          "numerics = [\"exact\", \"fast\"]\n");
  EXPECT_EQ(ids(x), (std::set<std::string>{
                        "dp1-tp1-pp1-fp32-exact-s1", "dp2-tp1-pp1-fp32-exact-s1", "dp1-tp2-pp2-fp32-exact-gpipe-s1",
                        "dp1-tp2-pp2-fp32-exact-1f1b-s1", "dp1-tp1-pp1-fp32-fast-s1", "dp2-tp1-pp1-fp32-fast-s1",
                        "dp1-tp2-pp2-fp32-fast-gpipe-s1", "dp1-tp2-pp2-fp32-fast-1f1b-s1"}));
}

TEST(SpecExpand, WeakScalingGrowsTheBatchWithDp) {
  const Expansion x = expand_text("model = \"tiny\"\nmicro_batches = 2\n[grid]\ndp = [1, 2, 4]\nbatch = [\"strong\", \"weak\"]\n");
  // dp1 is the same run in both; weak dp2 / dp4 run 4 / 8 micro-batches and get their own baselines.
  EXPECT_EQ(ids(x), (std::set<std::string>{"dp1-tp1-pp1-fp32-exact-s1", "dp2-tp1-pp1-fp32-exact-s1",
                                           "dp1-tp1-pp1-fp32-exact-m4-s1", "dp2-tp1-pp1-fp32-exact-m4-s1",
                                           "dp1-tp1-pp1-fp32-exact-m8-s1", "dp4-tp1-pp1-fp32-exact-m8-s1"}));
  // dp4 strong: 2 micro-batches over 4 ranks does not split: a skip (weak dp4 runs).
  EXPECT_CONTAINS(skip_reason(x, "dp4-tp1-pp1-fp32-exact-s1"), "does not split over --dp 4");
  EXPECT_EQ(find(x, "dp4-tp1-pp1-fp32-exact-m8-s1")->baseline_id, "dp1-tp1-pp1-fp32-exact-m8-s1");
  EXPECT_EQ(find(x, "dp4-tp1-pp1-fp32-exact-m8-s1")->config.micro_batches, 8);
  EXPECT_TRUE(find(x, "dp1-tp1-pp1-fp32-exact-m8-s1")->baseline);
}

TEST(SpecExpand, ExtraArguments) {
  const Expansion x = expand_text(kBase + "check_consistency = 2\nextra_args = [\"--quiet\"]\n"
                                          "[grid]\ndp = [1, 2]\n"
                                          "[extra_args_by_run]\n\"dp2-tp1-pp1-fp32-exact\" = [\"--check-consistency\", \"1\"]\n");
  const auto args = parity::sweep::train_args(*find(x, "dp2-tp1-pp1-fp32-exact-s1"));
  const std::string joined = std::accumulate(args.begin(), args.end(), std::string(),
                                             [](const std::string& a, const std::string& b) { return a + " " + b; });
  EXPECT_CONTAINS(joined, " --dp 2 --tp 1 --pp 1");
  EXPECT_CONTAINS(joined, " --micro-batches 4 --micro-batch-size 2");
  EXPECT_CONTAINS(joined, " --quiet --check-consistency 1");
  EXPECT_EQ(joined.find("--check-consistency 2"), std::string::npos);  // the run's own setting replaces the spec's
  const auto base = parity::sweep::train_args(*find(x, "dp1-tp1-pp1-fp32-exact-s1"));
  EXPECT_NE(std::find(base.begin(), base.end(), "--check-consistency"), base.end());
  EXPECT_EQ(std::find(base.begin(), base.end(), "--schedule"), base.end());

  EXPECT_CONTAINS(expand_error(kBase + "[grid]\ndp = [1, 2]\n[extra_args_by_run]\n\"dp4-tp1-pp1-fp32-exact\" = [\"--quiet\"]\n"),
                  "s.toml:8: extra_args_by_run: 'dp4-tp1-pp1-fp32-exact' is not a run of this sweep");
  EXPECT_CONTAINS(expand_error(kBase + "extra_args = [\"--dp\", \"2\"]\n"), "s.toml:5: extra_args must not set --dp");
  EXPECT_CONTAINS(expand_error(kBase + "extra_args = [\"--results=x.h5\"]\n"), "must not set --results");
}

TEST(SpecExpand, FastBoundPerPrecisionOrDerived) {
  const std::string grid = "[grid]\nprecision = [\"fp32\", \"bf16\"]\nnumerics = [\"exact\", \"fast\"]\n";
  const Expansion a = expand_text(kBase + "fast_loss_bound = 2e-4\n" + grid);
  EXPECT_EQ(find(a, "dp1-tp1-pp1-bf16-fast-s1")->bound, 2e-4);
  EXPECT_EQ(find(a, "dp1-tp1-pp1-bf16-exact-s1")->bound, 0.0);
  const Expansion b = expand_text(kBase + "fast_loss_bound = { fp32 = 1e-5, bf16 = 3e-3 }\n" + grid);
  EXPECT_EQ(find(b, "dp1-tp1-pp1-fp32-fast-s1")->bound, 1e-5);
  EXPECT_EQ(find(b, "dp1-tp1-pp1-bf16-fast-s1")->bound, 3e-3);
  const Expansion c = expand_text(kBase + "fast_loss_bound = \"derived\"\n" + grid);
  const RunDef* f = find(c, "dp1-tp1-pp1-bf16-fast-s1");
  EXPECT_DOUBLE_EQ(f->bound, 2.0 * parity::fast_mode_bound(f->config.model, 2, parity::Precision::bf16).loss_rel_step);
  EXPECT_GT(f->bound, find(c, "dp1-tp1-pp1-fp32-fast-s1")->bound);
  EXPECT_CONTAINS(parse_error(kBase + "fast_loss_bound = { fp8 = 1 }\n"), "s.toml:5: unknown key 'fp8' in [fast_loss_bound]");
  EXPECT_CONTAINS(parse_error(kBase + "fast_loss_bound = \"tight\"\n"), "must be a number, a table of numbers per precision, or \"derived\"");
}

TEST(SpecExpand, FloatFlagsRoundTrip) {
  const Expansion x = expand_text("model = \"tiny\"\nlr = 3e-4\nlr_min_frac = 0.1\n");
  const auto a = parity::sweep::train_args(x.runs[0]);
  const auto lr = std::find(a.begin(), a.end(), "--lr");
  ASSERT_NE(lr, a.end());
  EXPECT_EQ(*(lr + 1), "0.0003");
  EXPECT_EQ(std::strtof((lr + 1)->c_str(), nullptr), 3e-4f);
  EXPECT_EQ(*(std::find(a.begin(), a.end(), "--lr-min-frac") + 1), "0.1");
}

// ----------------------------------------------------------------------------------- verdicts

using parity::sweep::parse_verdict;
using parity::sweep::Verdict;

TEST(Verdict, TheFileSpellsItAsBeforeInParityAndStatus) {
  // The words of docs/hdf5-schema.md: crashed and timeout runs are parity "failed" with their status.
  const std::vector<std::tuple<Verdict, std::string, std::string>> spelled = {
      {Verdict::baseline, "baseline", "ok"},   {Verdict::bitwise, "bitwise", "ok"},
      {Verdict::within_bound, "within-bound", "ok"}, {Verdict::failed, "failed", "ok"},
      {Verdict::crashed, "failed", "crashed"}, {Verdict::timeout, "failed", "timeout"},
      {Verdict::skipped, "skipped", "skipped"}};
  for (const auto& [v, parity, status] : spelled) {
    EXPECT_EQ(parity_attribute(v), parity) << to_string(v);
    EXPECT_EQ(status_attribute(v), status) << to_string(v);
    EXPECT_EQ(parse_verdict(parity, status), v) << parity << "/" << status;
  }
  EXPECT_EQ(std::string(to_string(Verdict::within_bound)), "within-bound");
  EXPECT_EQ(std::string(to_string(Verdict::crashed)), "crashed");
}

TEST(Verdict, OlderAndPartialAttributesRead) {
  // A results file has neither attribute; a group without status (before the sweep recorded it) is judged by
  // its parity word alone.
  EXPECT_EQ(parse_verdict("", ""), Verdict::none);
  EXPECT_EQ(parse_verdict("bitwise", ""), Verdict::bitwise);
  EXPECT_EQ(parse_verdict("failed", ""), Verdict::failed);
  // The status decides when the run did not finish, whatever the parity word says.
  EXPECT_EQ(parse_verdict("", "timeout"), Verdict::timeout);
  // A word this version does not know is not a verdict.
  EXPECT_EQ(parse_verdict("identical", "ok"), std::nullopt);
  EXPECT_TRUE(parity::sweep::is_failure(Verdict::crashed));
  EXPECT_TRUE(parity::sweep::is_failure(Verdict::failed));
  EXPECT_FALSE(parity::sweep::is_failure(Verdict::within_bound));
  EXPECT_FALSE(parity::sweep::is_failure(Verdict::skipped));
}

}  // namespace
