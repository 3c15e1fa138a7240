// Spec -> runs: the cartesian product of the grid, minus what the trainer refuses (skipped, with its own
// words), with duplicates merged, plus one single-device exact baseline per (precision, micro-batch count,
// seed); a grid value that can never run is an error naming its key (docs/sweeps.md, "Expansion").
#include <algorithm>
#include <map>
#include <set>

#include "harness/spec.hpp"
#include "kernels/error.hpp"
#include "reference/numerics_bound.hpp"
#include "reference/run_definition.hpp"
#include "reference/shard_layout.hpp"
#include "reference/trainer.hpp"

namespace parity::sweep {
namespace {

// Messages "PATH:LINE: ..." for a key of the spec.
class KeyErrors {
 public:
  explicit KeyErrors(const Spec& s) : s_(s) {}
  long line(const std::string& key) const {
    const auto it = s_.lines.find(key);
    return it == s_.lines.end() ? 0L : it->second;
  }
  [[noreturn]] void fail(const std::string& key, const std::string& what) const { fail_at(line(key), what); }
  [[noreturn]] void fail_at(long l, const std::string& what) const {
    throw Error(s_.path + (l > 0 ? ":" + std::to_string(l) : std::string()) + ": " + what);
  }

 private:
  const Spec& s_;
};

// The spec key a validation message is about, for the baseline's error message: the field whose flag the
// message names (the longest, so --lr-min-frac before --lr), "grid.<key>" for a layout field.
std::string key_of_message(const std::string& msg) {
  if (msg.find("model dimensions") != std::string::npos) return "model";
  const RunField* best = nullptr;
  for (const RunField& f : run_fields())
    if (msg.find(f.flag) != std::string::npos && (!best || f.flag.size() > best->flag.size())) best = &f;
  if (!best) return "";
  if (best->role == FieldRole::layout) return "grid." + best->key;
  return best->role == FieldRole::model ? "model." + best->key : best->key;
}

// Reasons a layout cannot run, phrased by the trainer itself; "" if it can.
std::string refusal(const TrainConfig& c) {
  try {
    validate(c);
    stage_layers(c.model.L, c.pp, c.pp_split);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// The flags the sweep sets itself: extra arguments must not. Every field that defines the run's numbers
// (model, training, layout) and the files the sweep reads back.
const std::set<std::string>& reserved_flags() {
  static const std::set<std::string> r = [] {
    std::set<std::string> s = {"--results", "--checkpoint-out", "--resume", "--save-every"};
    for (const RunField& f : run_fields())
      if (f.role == FieldRole::model || f.role == FieldRole::training || f.role == FieldRole::layout) s.insert(f.flag);
    return s;
  }();
  return r;
}

void check_extra_args(const Spec& s, const KeyErrors& err) {
  auto flag_of = [](const std::string& a) { return a.substr(0, a.find('=')); };
  for (const auto& a : s.extra_args)
    if (reserved_flags().count(flag_of(a)))
      err.fail("extra_args", "extra_args must not set " + flag_of(a) + ": the sweep sets it (use the spec's own keys)");
  for (const auto& [id, args] : s.extra_args_by_run)
    for (const auto& a : args)
      if (reserved_flags().count(flag_of(a)))
        err.fail("extra_args_by_run." + id, "extra_args_by_run must not set " + flag_of(a) + ": the sweep sets it");
}

// The run definition itself (one device, exact, the base micro-batch count) must be valid in every precision:
// the baselines are such runs.
void check_definition_runs(const Spec& s, const KeyErrors& err) {
  for (Precision precision : s.grid.precision) {
    TrainConfig b = s.base;
    b.precision = precision;
    b.numerics = Numerics::exact;
    const std::string why = refusal(b);
    if (why.empty()) continue;
    const std::string key = key_of_message(why);
    err.fail(key.empty() ? "grid" : key, (key.empty() ? std::string() : "key '" + key + "': ") +
                                             "the single-device exact baseline (" + to_string(precision) +
                                             ") that the layouts are compared with cannot run: " + why);
  }
}

// The sweep's id of a run: the trainer's, "-m<m>" when the micro-batch count is not the spec's, "-s<seed>".
std::string sweep_id(const Spec& s, const TrainConfig& c, const std::string& train_id) {
  return train_id + (c.micro_batches != s.base.micro_batches ? "-m" + std::to_string(c.micro_batches) : std::string()) +
         "-s" + std::to_string(c.seed);
}

// One layout choice of the grid: an entry of grid.layouts (or none) with the axes it leaves to the grid's lists.
struct LayoutChoice {
  const LayoutPattern* pattern;
  int pp, dp, tp, zero;
  ScheduleKind schedule;
};

std::vector<LayoutChoice> layout_choices(const Grid& g, const std::vector<LayoutPattern>& patterns) {
  auto pick = [](int fixed, const std::vector<int>& axis) { return fixed > 0 ? std::vector<int>{fixed} : axis; };
  std::vector<LayoutChoice> out;
  for (const LayoutPattern& pat : patterns)
    for (int pp : pick(pat.pp, g.pp))
      for (int dp : pick(pat.dp, g.dp))
        for (int tp : pick(pat.tp, g.tp))
          for (ScheduleKind schedule : pat.schedule ? std::vector<ScheduleKind>{*pat.schedule} : g.schedule)
            for (int zero : pat.zero >= 0 ? std::vector<int>{pat.zero} : g.zero)
              out.push_back({&pat, pp, dp, tp, zero, schedule});
  return out;
}

// One point of the grid: its run, and the grid values ("grid.tp=2", ...) it stands for.
struct GridPoint {
  TrainConfig config;
  std::string train_id, id;
  std::vector<std::string> keys;
};

GridPoint grid_point(const Spec& s, const LayoutChoice& l, uint64_t seed, Precision precision, Numerics numerics,
                     const std::string& batch, bool explicit_layouts) {
  GridPoint pt;
  TrainConfig& c = pt.config;
  c = s.base;
  c.seed = seed;
  c.precision = precision;
  c.numerics = numerics;
  c.dp = l.dp;
  c.tp = l.tp;
  c.pp = l.pp;
  c.schedule = l.schedule;
  c.zero = l.dp > 1 ? l.zero : 0;
  if (batch == "weak") c.micro_batches = s.base.micro_batches * l.dp;
  pt.train_id = run_id(c);
  pt.id = sweep_id(s, c, pt.train_id);
  const LayoutPattern& pat = *l.pattern;
  pt.keys = {std::string("grid.precision=") + to_string(precision), std::string("grid.numerics=") + to_string(numerics),
             "grid.batch=" + batch};
  if (explicit_layouts) pt.keys.push_back("grid.layouts=" + pat.text);
  if (!pat.pp) pt.keys.push_back("grid.pp=" + std::to_string(l.pp));
  if (!pat.dp) pt.keys.push_back("grid.dp=" + std::to_string(l.dp));
  if (!pat.tp) pt.keys.push_back("grid.tp=" + std::to_string(l.tp));
  if (!pat.schedule && l.pp > 1) pt.keys.push_back(std::string("grid.schedule=") + to_string(l.schedule));
  if (pat.zero < 0 && l.dp > 1) pt.keys.push_back("grid.zero=" + std::to_string(l.zero));
  return pt;
}

// The product seeds × precision × numerics × batch × layouts, in that order.
std::vector<GridPoint> grid_points(const Spec& s) {
  const Grid& g = s.grid;
  std::vector<LayoutPattern> patterns = g.layouts;
  const bool explicit_layouts = !patterns.empty();
  if (!explicit_layouts) patterns.push_back(LayoutPattern{});
  const std::vector<LayoutChoice> layouts = layout_choices(g, patterns);
  std::vector<GridPoint> out;
  for (uint64_t seed : s.seeds)
    for (Precision precision : g.precision)
      for (Numerics numerics : g.numerics)
        for (const std::string& batch : g.batch)
          for (const LayoutChoice& l : layouts)
            out.push_back(grid_point(s, l, seed, precision, numerics, batch, explicit_layouts));
  return out;
}

// Sorts the grid points into runs and skips, and remembers per grid value whether any point with it runs (or
// merges into one that runs) and the first reason otherwise.
class Classifier {
 public:
  Classifier(const Spec& s, const ExpandOptions& opt, Expansion& x) : s_(s), opt_(opt), x_(x) {}

  void add(const GridPoint& pt) {
    if (state_.count(pt.id)) {  // the same run as an earlier grid point
      ++x_.merged_duplicates;
      note(pt, state_[pt.id], refused_reason_[pt.id]);
      return;
    }
    const TrainConfig& c = pt.config;
    const std::string why = refusal(c);
    if (!why.empty()) return skip(pt, kRefused, why, why);
    if (c.dp * c.tp * c.pp > opt_.max_ranks)
      return skip(pt, kTooManyRanks,
                  "needs " + std::to_string(c.dp * c.tp * c.pp) + " ranks, more than --max-ranks " +
                      std::to_string(opt_.max_ranks),
                  "");
    state_[pt.id] = kRuns;
    note(pt, kRuns, "");
    RunDef r;
    r.id = pt.id;
    r.train_id = pt.train_id;
    r.config = c;
    r.bound = c.numerics == Numerics::exact ? 0.0 : fast_bound(s_, c);
    layouts.push_back(r);
  }

  // A grid value that never runs is a mistake in the spec, not a skip. Blame the structural axes first.
  void check_every_value_runs(const KeyErrors& err) const {
    for (const char* axis : {"grid.layouts", "grid.tp", "grid.dp", "grid.pp", "grid.zero", "grid.schedule",
                             "grid.batch", "grid.numerics", "grid.precision"}) {
      const std::string key = axis;
      for (const auto& [k, u] : usage_) {
        if (u.runs || k.compare(0, key.size() + 1, key + "=") != 0) continue;
        const std::string value = k.substr(key.size() + 1);
        if (key == "grid.layouts")
          for (const auto& pat : s_.grid.layouts)
            if (pat.text == value)
              err.fail_at(pat.line, "grid.layouts entry \"" + value + "\" can never run: " + u.reason);
        if (!err.line(key)) err.fail("grid", "no layout of the grid can run: " + u.reason);  // a default value
        err.fail(key, "key '" + key + "' = " + value + " can never run: " + u.reason);
      }
    }
  }

  std::vector<RunDef> layouts;

 private:
  enum State { kRuns, kRefused, kTooManyRanks };
  struct Usage {
    bool runs = false;
    std::string reason;
  };

  void skip(const GridPoint& pt, State st, const std::string& reason, const std::string& refused) {
    state_[pt.id] = st;
    if (st == kRefused) refused_reason_[pt.id] = refused;
    x_.skipped.push_back({pt.id, pt.config, reason});
    note(pt, st, refused);
  }

  // Too many ranks counts as running: it is a limit of the machine, not a mistake in the spec.
  void note(const GridPoint& pt, int st, const std::string& reason) {
    for (const auto& k : pt.keys) {
      Usage& u = usage_[k];
      if (st != kRefused) u.runs = true;
      else if (u.reason.empty()) u.reason = reason;
    }
  }

  const Spec& s_;
  const ExpandOptions& opt_;
  Expansion& x_;
  std::map<std::string, Usage> usage_;  // "grid.tp=3" -> usage
  std::map<std::string, int> state_;    // id -> State
  std::map<std::string, std::string> refused_reason_;
};

std::string baseline_key(const TrainConfig& c) {
  return to_string(c.precision) + ("/" + std::to_string(c.micro_batches)) + "/" + std::to_string(c.seed);
}

RunDef baseline_of(const Spec& s, const RunDef& r, const KeyErrors& err) {
  TrainConfig b = r.config;
  b.dp = b.tp = b.pp = 1;
  b.zero = 0;
  b.schedule = s.base.schedule;
  b.numerics = Numerics::exact;
  const std::string why = refusal(b);
  if (!why.empty()) {
    const std::string key = key_of_message(why);
    err.fail(key.empty() ? "grid" : key, "the single-device exact baseline (" + std::string(to_string(b.precision)) + ", " +
                                             std::to_string(b.micro_batches) + " micro-batches) that the layouts are "
                                             "compared with cannot run: " + why);
  }
  RunDef base;
  base.train_id = run_id(b);
  base.id = sweep_id(s, b, base.train_id);
  base.config = b;
  base.baseline = true;
  base.baseline_id = base.id;
  return base;
}

// One single-device exact baseline per (precision, micro-batch count, seed) in use; baselines run first, and a
// layout that is itself a baseline (dp1 exact) is not run twice.
void add_baselines(const Spec& s, std::vector<RunDef>& layouts, const KeyErrors& err, Expansion& x) {
  std::vector<RunDef> baselines;
  std::map<std::string, std::string> id_of;  // baseline_key -> baseline id
  for (const RunDef& r : layouts) {
    if (id_of.count(baseline_key(r.config))) continue;
    baselines.push_back(baseline_of(s, r, err));
    id_of[baseline_key(r.config)] = baselines.back().id;
  }
  for (RunDef& r : layouts) r.baseline_id = id_of[baseline_key(r.config)];
  for (RunDef& b : baselines) x.runs.push_back(b);
  for (RunDef& r : layouts)
    if (std::none_of(baselines.begin(), baselines.end(), [&](const RunDef& b) { return b.id == r.id; }))
      x.runs.push_back(r);
}

// extra_args_by_run keys name a run, with or without its -s<seed>.
bool names_run(const std::string& key, const std::string& id, uint64_t seed) {
  const std::string suffix = "-s" + std::to_string(seed);
  return id == key || id == key + suffix;
}

// Extra arguments: for every run, then per run id. A key that names no run of the grid is an error.
void apply_extra_args(const Spec& s, const KeyErrors& err, Expansion& x) {
  for (const auto& [key, args] : s.extra_args_by_run) {
    bool matched = false;
    for (const RunDef& r : x.runs) matched = matched || names_run(key, r.id, r.config.seed);
    for (const SkippedRun& r : x.skipped) matched = matched || names_run(key, r.id, r.config.seed);
    if (matched) continue;
    std::string ids;
    for (const RunDef& r : x.runs) ids += (ids.empty() ? "" : ", ") + r.id;
    err.fail("extra_args_by_run." + key, "extra_args_by_run: '" + key + "' is not a run of this sweep (runs: " + ids + ")");
  }
  for (RunDef& r : x.runs) {
    r.extra_args = s.extra_args;
    for (const auto& [key, args] : s.extra_args_by_run)
      if (names_run(key, r.id, r.config.seed)) r.extra_args.insert(r.extra_args.end(), args.begin(), args.end());
  }
}

}  // namespace

Expansion expand(const Spec& s, const ExpandOptions& opt) {
  const KeyErrors err(s);
  check_extra_args(s, err);
  check_definition_runs(s, err);
  Expansion x;
  Classifier sorter(s, opt, x);
  for (const GridPoint& pt : grid_points(s)) sorter.add(pt);
  sorter.check_every_value_runs(err);
  if (sorter.layouts.empty() && x.skipped.empty()) err.fail("grid", "the grid is empty");
  add_baselines(s, sorter.layouts, err, x);
  apply_extra_args(s, err, x);
  return x;
}

double fast_bound(const Spec& s, const TrainConfig& c) {
  if (s.derived_bound)
    return static_cast<double>(c.steps) *
           fast_mode_bound(c.model, c.micro_batch_size, c.precision).loss_rel_step;
  const auto it = s.fast_loss_bound_by_precision.find(c.precision);
  return it != s.fast_loss_bound_by_precision.end() ? it->second : s.fast_loss_bound;
}

}  // namespace parity::sweep
