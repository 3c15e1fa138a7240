#include "harness/spec.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include <toml++/toml.h>

#include "kernels/error.hpp"
#include "reference/model_config.hpp"
#include "reference/numerics_bound.hpp"
#include "reference/shard_layout.hpp"
#include "reference/trainer.hpp"

namespace parity::sweep {
namespace {

const char* type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    default: return "nothing";
  }
}

long line_of(const toml::node& n) { return static_cast<long>(n.source().begin.line); }

// Reads one spec: every message is "PATH:LINE: key 'k' ..." so that the user finds the spot.
class Parser {
 public:
  Parser(const std::string& path) : path_(path) {}

  [[noreturn]] void fail(long line, const std::string& what) const {
    throw Error(path_ + (line > 0 ? ":" + std::to_string(line) : std::string()) + ": " + what);
  }

  long integer(const toml::node& n, const std::string& key, long lo, long hi) const {
    if (!n.is_integer()) fail(line_of(n), "key '" + key + "' must be an integer (got " + type_name(n) + ")");
    const long v = static_cast<long>(n.as_integer()->get());
    if (v < lo || v > hi)
      fail(line_of(n), "key '" + key + "' = " + std::to_string(v) + " is out of range [" + std::to_string(lo) +
                           ", " + std::to_string(hi) + "]");
    return v;
  }
  double number(const toml::node& n, const std::string& key) const {
    if (n.is_integer()) return static_cast<double>(n.as_integer()->get());
    if (!n.is_floating_point()) fail(line_of(n), "key '" + key + "' must be a number (got " + type_name(n) + ")");
    return n.as_floating_point()->get();
  }
  std::string string(const toml::node& n, const std::string& key) const {
    if (!n.is_string()) fail(line_of(n), "key '" + key + "' must be a string (got " + type_name(n) + ")");
    return n.as_string()->get();
  }
  std::string choice(const toml::node& n, const std::string& key, const std::vector<std::string>& allowed) const {
    const std::string v = string(n, key);
    if (std::find(allowed.begin(), allowed.end(), v) == allowed.end()) {
      std::string all;
      for (const auto& a : allowed) all += (all.empty() ? "" : ", ") + a;
      fail(line_of(n), "key '" + key + "' = \"" + v + "\" is not one of " + all);
    }
    return v;
  }
  // A list, or a single value standing for a list of one; duplicates dropped, order kept.
  template <class T, class F>
  std::vector<T> list(const toml::node& n, const std::string& key, F element) const {
    std::vector<T> out;
    auto add = [&](const toml::node& e) {
      T v = element(e);
      if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
    };
    if (const toml::array* a = n.as_array()) {
      if (a->empty()) fail(line_of(n), "key '" + key + "' is an empty list");
      for (const toml::node& e : *a) add(e);
    } else {
      add(n);
    }
    return out;
  }
  std::vector<std::string> strings(const toml::node& n, const std::string& key) const {
    const toml::array* a = n.as_array();
    if (!a) fail(line_of(n), "key '" + key + "' must be an array of strings (got " + type_name(n) + ")");
    std::vector<std::string> out;
    for (const toml::node& e : *a) {
      if (!e.is_string()) fail(line_of(e), "key '" + key + "' must be an array of strings (an element is " + type_name(e) + ")");
      out.push_back(e.as_string()->get());
    }
    return out;
  }

  [[noreturn]] void unknown(const toml::key& k, const std::string& where, const std::vector<std::string>& known) const {
    std::string all;
    for (const auto& a : known) all += (all.empty() ? "" : ", ") + a;
    fail(static_cast<long>(k.source().begin.line),
         "unknown key '" + std::string(k.str()) + "'" + (where.empty() ? "" : " in [" + where + "]") + " (known: " + all + ")");
  }

 private:
  std::string path_;
};

LayoutPattern parse_layout(const Parser& p, const std::string& text, long line) {
  LayoutPattern lp;
  lp.text = text;
  lp.line = line;
  std::stringstream ss(text);
  std::string tok;
  auto bad = [&](const std::string& why) {
    p.fail(line, "grid.layouts entry \"" + text + "\": " + why +
                     " (write e.g. \"dp2-tp2-pp2-1f1b-z1\": dpN, tpN, ppN, gpipe or 1f1b, z0 or z1, joined by '-')");
  };
  if (text.empty()) bad("empty");
  while (std::getline(ss, tok, '-')) {
    auto degree = [&](const char* prefix, int& field) {
      const std::string pre = prefix;
      if (tok.rfind(pre, 0) != 0 || tok.size() == pre.size()) return false;
      const std::string num = tok.substr(pre.size());
      if (num.find_first_not_of("0123456789") != std::string::npos || num.size() > 4) bad("'" + tok + "' is not " + pre + "N");
      if (field != 0) bad(pre + " given twice");
      field = std::stoi(num);
      if (field < 1) bad("'" + tok + "': degrees are >= 1");
      return true;
    };
    if (degree("dp", lp.dp) || degree("tp", lp.tp) || degree("pp", lp.pp)) continue;
    if (tok == "gpipe" || tok == "1f1b") {
      if (!lp.schedule.empty()) bad("schedule given twice");
      lp.schedule = tok;
    } else if (tok == "z0" || tok == "z1" || tok == "zero0" || tok == "zero1") {
      if (lp.zero >= 0) bad("zero given twice");
      lp.zero = tok.back() - '0';
    } else {
      bad("unknown part '" + tok + "'");
    }
  }
  return lp;
}

}  // namespace

Spec parse_spec(const std::string& text, const std::string& path) {
  Spec s;
  s.path = path;
  s.text = text;
  Parser p(path);
  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    const auto& src = e.source();
    throw Error(path + ":" + std::to_string(src.begin.line) + ":" + std::to_string(src.begin.column) +
                ": TOML syntax error: " + std::string(e.description()));
  }
  TrainConfig& c = s.base;
  bool have_model = false;
  const std::vector<std::string> known = {"name", "description", "model", "data", "steps", "seeds", "micro_batches",
                                          "micro_batch_size", "lr", "warmup", "lr_min_frac", "weight_decay",
                                          "grad_clip", "check_consistency", "fast_loss_bound", "extra_args",
                                          "extra_args_by_run", "grid"};
  for (auto&& [k, v] : root) {
    const std::string key(k.str());
    s.lines[key] = static_cast<long>(k.source().begin.line);
    if (key == "name") {
      s.name = p.string(v, key);
    } else if (key == "description") {
      s.description = p.string(v, key);
    } else if (key == "model") {
      have_model = true;
      if (v.is_string()) {
        c.model_name = p.string(v, key);
        try {
          c.model = model_preset(c.model_name);
        } catch (const Error& e) {
          p.fail(line_of(v), "key 'model': " + std::string(e.what()));
        }
      } else if (const toml::table* t = v.as_table()) {
        const toml::node* preset = t->get("preset");
        if (!preset) p.fail(s.lines[key], "[model] needs 'preset' (tiny, small, gpt2-124m), e.g. preset = \"tiny\"");
        c.model_name = p.string(*preset, "model.preset");
        try {
          c.model = model_preset(c.model_name);
        } catch (const Error& e) {
          p.fail(line_of(*preset), "key 'model.preset': " + std::string(e.what()));
        }
        for (auto&& [mk, mv] : *t) {
          const std::string mkey(mk.str());
          s.lines["model." + mkey] = static_cast<long>(mk.source().begin.line);
          const long big = 1L << 30;
          if (mkey == "preset") continue;
          else if (mkey == "layers") c.model.L = p.integer(mv, "model.layers", 1, big);
          else if (mkey == "channels") c.model.C = p.integer(mv, "model.channels", 1, big);
          else if (mkey == "heads") c.model.H = p.integer(mv, "model.heads", 1, big);
          else if (mkey == "seq_len") c.model.T = p.integer(mv, "model.seq_len", 1, big);
          else if (mkey == "vocab") c.model.V = p.integer(mv, "model.vocab", 2, big);
          else p.unknown(mk, "model", {"preset", "layers", "channels", "heads", "seq_len", "vocab"});
        }
        try {
          validate(c.model);
        } catch (const Error& e) {
          p.fail(s.lines[key], "[model]: " + std::string(e.what()));
        }
      } else {
        p.fail(line_of(v), "key 'model' must be a preset name (\"tiny\") or a table [model] (got " +
                               std::string(type_name(v)) + ")");
      }
    } else if (key == "data") {
      c.data = p.string(v, key);
    } else if (key == "steps") {
      c.steps = p.integer(v, key, 1, 1L << 40);
    } else if (key == "seeds") {
      s.seeds = p.list<uint64_t>(v, key, [&](const toml::node& e) {
        return static_cast<uint64_t>(p.integer(e, "seeds", 0, INT64_MAX));
      });
    } else if (key == "micro_batches") {
      c.micro_batches = p.integer(v, key, 1, 1L << 30);
    } else if (key == "micro_batch_size") {
      c.micro_batch_size = p.integer(v, key, 1, 1L << 30);
    } else if (key == "lr") {
      c.lr = static_cast<float>(p.number(v, key));
    } else if (key == "warmup") {
      c.warmup = p.integer(v, key, 0, 1L << 40);
    } else if (key == "lr_min_frac") {
      c.lr_min_frac = static_cast<float>(p.number(v, key));
    } else if (key == "weight_decay") {
      c.adam.weight_decay = static_cast<float>(p.number(v, key));
    } else if (key == "grad_clip") {
      c.grad_clip = static_cast<float>(p.number(v, key));
    } else if (key == "check_consistency") {
      c.check_consistency = p.integer(v, key, 0, 1L << 40);
    } else if (key == "fast_loss_bound") {
      auto bound = [&](const toml::node& n, const std::string& k) {
        const double b = p.number(n, k);
        if (!(b >= 0) || b > 1) p.fail(line_of(n), "key '" + k + "' must be a relative difference in [0, 1]");
        return b;
      };
      if (v.is_string()) {
        if (p.string(v, key) != "derived")
          p.fail(line_of(v), "key 'fast_loss_bound' must be a number, a table of numbers per precision, or \"derived\"");
        s.derived_bound = true;
      } else if (const toml::table* t = v.as_table()) {
        for (auto&& [bk, bv] : *t) {
          const std::string prec(bk.str());
          if (prec != "fp32" && prec != "bf16" && prec != "fp16") p.unknown(bk, "fast_loss_bound", {"fp32", "bf16", "fp16"});
          s.fast_loss_bound_by_precision[prec] = bound(bv, "fast_loss_bound." + prec);
        }
      } else {
        s.fast_loss_bound = bound(v, key);
      }
    } else if (key == "extra_args") {
      s.extra_args = p.strings(v, key);
    } else if (key == "extra_args_by_run") {
      const toml::table* t = v.as_table();
      if (!t) p.fail(line_of(v), "key 'extra_args_by_run' must be a table of run id = [args] (got " + std::string(type_name(v)) + ")");
      for (auto&& [rk, rv] : *t) {
        const std::string rkey(rk.str());
        s.lines["extra_args_by_run." + rkey] = static_cast<long>(rk.source().begin.line);
        s.extra_args_by_run[rkey] = p.strings(rv, "extra_args_by_run." + rkey);
      }
    } else if (key == "grid") {
      const toml::table* t = v.as_table();
      if (!t) p.fail(line_of(v), "key 'grid' must be a table [grid] (got " + std::string(type_name(v)) + ")");
      Grid& g = s.grid;
      auto degrees = [&](const toml::node& n, const std::string& gk) {
        return p.list<int>(n, gk, [&, gk](const toml::node& e) { return static_cast<int>(p.integer(e, gk, 1, 4096)); });
      };
      auto choices = [&](const toml::node& n, const std::string& gk, const std::vector<std::string>& allowed) {
        return p.list<std::string>(n, gk, [&, gk](const toml::node& e) { return p.choice(e, gk, allowed); });
      };
      for (auto&& [gk, gv] : *t) {
        const std::string gkey(gk.str()), full = "grid." + gkey;
        s.lines[full] = static_cast<long>(gk.source().begin.line);
        if (gkey == "dp") g.dp = degrees(gv, full);
        else if (gkey == "tp") g.tp = degrees(gv, full);
        else if (gkey == "pp") g.pp = degrees(gv, full);
        else if (gkey == "zero")
          g.zero = p.list<int>(gv, full, [&](const toml::node& e) { return static_cast<int>(p.integer(e, full, 0, 1)); });
        else if (gkey == "precision") g.precision = choices(gv, full, {"fp32", "bf16", "fp16"});
        else if (gkey == "numerics") g.numerics = choices(gv, full, {"exact", "fast"});
        else if (gkey == "schedule") g.schedule = choices(gv, full, {"gpipe", "1f1b"});
        else if (gkey == "batch") g.batch = choices(gv, full, {"strong", "weak"});
        else if (gkey == "layouts") {
          const toml::array* a = gv.as_array();
          if (!a || a->empty())
            p.fail(line_of(gv), "key 'grid.layouts' must be a non-empty array of layout strings such as \"dp2-tp2\"");
          for (const toml::node& e : *a) {
            const LayoutPattern lp = parse_layout(p, p.string(e, full), line_of(e));
            const bool dup = std::any_of(g.layouts.begin(), g.layouts.end(),
                                         [&](const LayoutPattern& o) { return o.text == lp.text; });
            if (!dup) g.layouts.push_back(lp);
          }
        } else {
          p.unknown(gk, "grid", {"dp", "tp", "pp", "zero", "precision", "numerics", "schedule", "batch", "layouts"});
        }
      }
    } else {
      p.unknown(k, "", known);
    }
  }
  if (!have_model)
    throw Error(path + ": the spec names no model: add e.g. model = \"tiny\" (a preset: tiny, small, gpt2-124m) or a "
                       "[model] table with preset and dimensions");
  return s;
}

Spec parse_spec_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read sweep spec " + path + ": no such file or not readable");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_spec(ss.str(), path);
}

std::string describe_layout(const TrainConfig& c) {
  std::string s = "dp" + std::to_string(c.dp) + "-tp" + std::to_string(c.tp) + "-pp" + std::to_string(c.pp);
  if (c.pp > 1) s += "-" + c.schedule;
  if (c.zero) s += "-z1";
  return s;
}

namespace {

// The shortest decimal that reads back as the same float (the trainer parses its flags as float).
std::string fmt_float(float v) {
  char buf[64];
  for (int digits = 6; digits <= 9; ++digits) {
    std::snprintf(buf, sizeof buf, "%.*g", digits, static_cast<double>(v));
    if (std::strtof(buf, nullptr) == v) break;
  }
  return buf;
}

// The spec key a validation message is about, for the baseline's error message.
std::string key_of_message(const std::string& msg) {
  static const std::vector<std::pair<std::string, std::string>> flags = {
      {"--micro-batch-size", "micro_batch_size"}, {"--micro-batches", "micro_batches"}, {"--steps", "steps"},
      {"--lr-min-frac", "lr_min_frac"}, {"--lr", "lr"}, {"--warmup", "warmup"}, {"--weight-decay", "weight_decay"},
      {"--grad-clip", "grad_clip"}, {"--precision", "grid.precision"}, {"--check-consistency", "check_consistency"},
      {"model dimensions", "model"}};
  for (const auto& [flag, key] : flags)
    if (msg.find(flag) != std::string::npos) return key;
  return "";
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

const std::set<std::string>& reserved_flags() {
  static const std::set<std::string> r = {
      "--model", "--layers", "--channels", "--heads", "--seq-len", "--vocab", "--data", "--seed", "--steps",
      "--micro-batches", "--micro-batch-size", "--lr", "--warmup", "--lr-min-frac", "--weight-decay",
      "--grad-clip", "--precision", "--numerics", "--dp", "--tp", "--pp", "--schedule", "--zero",
      "--results", "--checkpoint-out", "--resume", "--save-every"};
  return r;
}

}  // namespace

Expansion expand(const Spec& s, const ExpandOptions& opt) {
  auto line = [&](const std::string& key) {
    auto it = s.lines.find(key);
    return it == s.lines.end() ? 0L : it->second;
  };
  auto fail = [&](const std::string& key, const std::string& what) -> void {
    const long l = line(key);
    throw Error(s.path + (l > 0 ? ":" + std::to_string(l) : std::string()) + ": " + what);
  };
  for (const auto& a : s.extra_args) {
    const std::string flag = a.substr(0, a.find('='));
    if (reserved_flags().count(flag))
      fail("extra_args", "extra_args must not set " + flag + ": the sweep sets it (use the spec's own keys)");
  }
  for (const auto& [id, args] : s.extra_args_by_run)
    for (const auto& a : args) {
      const std::string flag = a.substr(0, a.find('='));
      if (reserved_flags().count(flag))
        fail("extra_args_by_run." + id, "extra_args_by_run must not set " + flag + ": the sweep sets it");
    }

  // The run definition itself (one device, exact, the base micro-batch count) must be valid in every
  // precision: the baselines are such runs.
  for (const std::string& precision : s.grid.precision) {
    TrainConfig b = s.base;
    b.precision = precision;
    b.numerics = Numerics::exact;
    const std::string why = refusal(b);
    if (!why.empty()) {
      const std::string key = key_of_message(why);
      fail(key.empty() ? "grid" : key, (key.empty() ? std::string() : "key '" + key + "': ") +
                                           "the single-device exact baseline (" + precision +
                                           ") that the layouts are compared with cannot run: " + why);
    }
  }

  Expansion x;
  // Per grid value: did any layout with it run (or merge into one that runs)? And the first reason otherwise.
  struct Usage {
    bool runs = false;
    std::string reason;
  };
  std::map<std::string, Usage> usage;  // "grid.tp=3" -> usage
  std::map<std::string, int> state;    // id -> 0 run, 1 refused, 2 too many ranks
  std::map<std::string, std::string> refused_reason;
  std::vector<RunDef> layouts;
  const Grid& g = s.grid;
  std::vector<LayoutPattern> patterns = g.layouts;
  const bool explicit_layouts = !patterns.empty();
  if (!explicit_layouts) patterns.push_back(LayoutPattern{});

  auto pick = [](int fixed, const std::vector<int>& axis) { return fixed > 0 ? std::vector<int>{fixed} : axis; };
  for (uint64_t seed : s.seeds)
    for (const std::string& precision : g.precision)
      for (const std::string& numerics : g.numerics)
        for (const std::string& batch : g.batch)
          for (const LayoutPattern& pat : patterns)
            for (int pp : pick(pat.pp, g.pp))
              for (int dp : pick(pat.dp, g.dp))
                for (int tp : pick(pat.tp, g.tp))
                  for (const std::string& schedule :
                       pat.schedule.empty() ? g.schedule : std::vector<std::string>{pat.schedule})
                    for (int zero : pat.zero >= 0 ? std::vector<int>{pat.zero} : g.zero) {
                      TrainConfig c = s.base;
                      c.seed = seed;
                      c.precision = precision;
                      c.numerics = numerics == "exact" ? Numerics::exact : Numerics::fast;
                      c.dp = dp;
                      c.tp = tp;
                      c.pp = pp;
                      c.schedule = schedule;
                      c.zero = dp > 1 ? zero : 0;
                      if (batch == "weak") c.micro_batches = s.base.micro_batches * dp;
                      const std::string train_id = run_id(c);
                      const std::string id = train_id +
                                             (c.micro_batches != s.base.micro_batches
                                                  ? "-m" + std::to_string(c.micro_batches)
                                                  : std::string()) +
                                             "-s" + std::to_string(seed);
                      std::vector<std::string> keys = {"grid.precision=" + precision, "grid.numerics=" + numerics,
                                                       "grid.batch=" + batch};
                      if (explicit_layouts) keys.push_back("grid.layouts=" + pat.text);
                      if (!pat.pp) keys.push_back("grid.pp=" + std::to_string(pp));
                      if (!pat.dp) keys.push_back("grid.dp=" + std::to_string(dp));
                      if (!pat.tp) keys.push_back("grid.tp=" + std::to_string(tp));
                      if (pat.schedule.empty() && pp > 1) keys.push_back("grid.schedule=" + schedule);
                      if (pat.zero < 0 && dp > 1) keys.push_back("grid.zero=" + std::to_string(zero));
                      auto note = [&](int st, const std::string& reason) {
                        for (const auto& k : keys) {
                          Usage& u = usage[k];
                          if (st != 1) u.runs = true;
                          else if (u.reason.empty()) u.reason = reason;
                        }
                      };
                      if (state.count(id)) {  // the same run as an earlier grid point
                        ++x.merged_duplicates;
                        note(state[id], refused_reason[id]);
                        continue;
                      }
                      const std::string why = refusal(c);
                      if (!why.empty()) {
                        state[id] = 1;
                        refused_reason[id] = why;
                        x.skipped.push_back({id, c, why});
                        note(1, why);
                        continue;
                      }
                      if (c.dp * c.tp * c.pp > opt.max_ranks) {
                        state[id] = 2;
                        x.skipped.push_back({id, c, "needs " + std::to_string(c.dp * c.tp * c.pp) +
                                                        " ranks, more than --max-ranks " + std::to_string(opt.max_ranks)});
                        note(2, "");
                        continue;
                      }
                      state[id] = 0;
                      note(0, "");
                      RunDef r;
                      r.id = id;
                      r.train_id = train_id;
                      r.config = c;
                      r.bound = c.numerics == Numerics::exact ? 0.0 : fast_bound(s, c);
                      layouts.push_back(r);
                    }

  // A grid value that never runs is a mistake in the spec, not a skip. Blame the structural axes first.
  for (const char* axis : {"grid.layouts", "grid.tp", "grid.dp", "grid.pp", "grid.zero", "grid.schedule",
                           "grid.batch", "grid.numerics", "grid.precision"}) {
    const std::string key = axis;
    for (const auto& [k, u] : usage) {
      if (u.runs || k.compare(0, key.size() + 1, key + "=") != 0) continue;
      const std::string value = k.substr(key.size() + 1);
      if (key == "grid.layouts") {
        for (const auto& pat : g.layouts)
          if (pat.text == value)
            throw Error(s.path + (pat.line > 0 ? ":" + std::to_string(pat.line) : std::string()) +
                        ": grid.layouts entry \"" + value + "\" can never run: " + u.reason);
      }
      if (!line(key)) fail("grid", "no layout of the grid can run: " + u.reason);  // a default value
      fail(key, "key '" + key + "' = " + value + " can never run: " + u.reason);
    }
  }
  if (layouts.empty() && x.skipped.empty()) fail("grid", "the grid is empty");

  // One single-device exact baseline per (precision, micro-batch count, seed) in use.
  std::vector<RunDef> baselines;
  std::map<std::string, std::string> baseline_of;  // "precision/m/seed" -> baseline id
  for (const RunDef& r : layouts) {
    const std::string k = r.config.precision + "/" + std::to_string(r.config.micro_batches) + "/" + std::to_string(r.config.seed);
    if (baseline_of.count(k)) continue;
    TrainConfig b = r.config;
    b.dp = b.tp = b.pp = 1;
    b.zero = 0;
    b.schedule = s.base.schedule;
    b.numerics = Numerics::exact;
    const std::string why = refusal(b);
    if (!why.empty()) {
      const std::string key = key_of_message(why);
      fail(key.empty() ? "grid" : key, "the single-device exact baseline (" + b.precision + ", " +
                                           std::to_string(b.micro_batches) + " micro-batches) that the layouts are "
                                           "compared with cannot run: " + why);
    }
    RunDef base;
    base.train_id = run_id(b);
    base.id = base.train_id +
              (b.micro_batches != s.base.micro_batches ? "-m" + std::to_string(b.micro_batches) : std::string()) +
              "-s" + std::to_string(b.seed);
    base.config = b;
    base.baseline = true;
    base.baseline_id = base.id;
    baseline_of[k] = base.id;
    baselines.push_back(base);
  }
  for (RunDef& r : layouts) {
    const std::string k = r.config.precision + "/" + std::to_string(r.config.micro_batches) + "/" + std::to_string(r.config.seed);
    r.baseline_id = baseline_of[k];
  }
  for (RunDef& b : baselines) x.runs.push_back(b);
  for (RunDef& r : layouts)
    if (std::none_of(baselines.begin(), baselines.end(), [&](const RunDef& b) { return b.id == r.id; }))
      x.runs.push_back(r);

  // Extra arguments: for every run, then per run id (with or without the seed suffix).
  for (const auto& [key, args] : s.extra_args_by_run) {
    bool matched = false;
    auto matches = [&](const std::string& id, uint64_t seed) {
      const std::string suffix = "-s" + std::to_string(seed);
      return id == key || (id.size() > suffix.size() && id.compare(id.size() - suffix.size(), suffix.size(), suffix) == 0 &&
                           id.substr(0, id.size() - suffix.size()) == key);
    };
    for (const RunDef& r : x.runs) matched = matched || matches(r.id, r.config.seed);
    for (const SkippedRun& r : x.skipped) matched = matched || matches(r.id, r.config.seed);
    if (!matched) {
      std::string ids;
      for (const RunDef& r : x.runs) ids += (ids.empty() ? "" : ", ") + r.id;
      fail("extra_args_by_run." + key, "extra_args_by_run: '" + key + "' is not a run of this sweep (runs: " + ids + ")");
    }
  }
  for (RunDef& r : x.runs) {
    r.extra_args = s.extra_args;
    for (const auto& [key, args] : s.extra_args_by_run) {
      const std::string suffix = "-s" + std::to_string(r.config.seed);
      if (r.id == key || r.id == key + suffix) r.extra_args.insert(r.extra_args.end(), args.begin(), args.end());
    }
  }
  return x;
}

double fast_bound(const Spec& s, const TrainConfig& c) {
  if (s.derived_bound)
    return static_cast<double>(c.steps) * fast_mode_bound(c.model, c.micro_batch_size, parse_precision(c.precision)).loss_rel_step;
  const auto it = s.fast_loss_bound_by_precision.find(c.precision);
  return it != s.fast_loss_bound_by_precision.end() ? it->second : s.fast_loss_bound;
}

std::vector<std::string> train_args(const RunDef& r) {
  const TrainConfig& c = r.config;
  std::vector<std::string> a = {"--model", c.model_name,
                                "--layers", std::to_string(c.model.L),
                                "--channels", std::to_string(c.model.C),
                                "--heads", std::to_string(c.model.H),
                                "--seq-len", std::to_string(c.model.T),
                                "--vocab", std::to_string(c.model.V),
                                "--data", c.data,
                                "--seed", std::to_string(c.seed),
                                "--steps", std::to_string(c.steps),
                                "--micro-batches", std::to_string(c.micro_batches),
                                "--micro-batch-size", std::to_string(c.micro_batch_size),
                                "--lr", fmt_float(c.lr),
                                "--warmup", std::to_string(c.warmup),
                                "--lr-min-frac", fmt_float(c.lr_min_frac),
                                "--weight-decay", fmt_float(c.adam.weight_decay),
                                "--grad-clip", fmt_float(c.grad_clip),
                                "--precision", c.precision,
                                "--numerics", to_string(c.numerics),
                                "--dp", std::to_string(c.dp),
                                "--tp", std::to_string(c.tp),
                                "--pp", std::to_string(c.pp)};
  if (c.pp > 1) a.insert(a.end(), {"--schedule", c.schedule});
  if (c.zero) a.insert(a.end(), {"--zero", std::to_string(c.zero)});
  // extra_args may set --check-consistency for one run (e.g. to catch an injected fault); the spec's otherwise.
  const bool own_check = std::find(r.extra_args.begin(), r.extra_args.end(), "--check-consistency") != r.extra_args.end();
  if (c.check_consistency > 0 && !own_check)
    a.insert(a.end(), {"--check-consistency", std::to_string(c.check_consistency)});
  a.insert(a.end(), r.extra_args.begin(), r.extra_args.end());
  return a;
}

}  // namespace parity::sweep
