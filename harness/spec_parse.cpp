// TOML text -> Spec: every key of docs/sweeps.md, with the file, line and key in every message. Whether the
// grid can run is not checked here (spec_expand.cpp does, with the trainer's own validation).
#include <algorithm>
#include <fstream>
#include <sstream>

#include "harness/spec.hpp"
#include "harness/spec_toml.hpp"
#include "reference/model_config.hpp"

namespace parity::sweep {
namespace {

LayoutPattern parse_layout(const TomlReader& p, const std::string& text, long line) {
  LayoutPattern lp;
  lp.text = text;
  lp.line = line;
  auto bad = [&](const std::string& why) {
    p.fail(line, "grid.layouts entry \"" + text + "\": " + why +
                     " (write e.g. \"dp2-tp2-pp2-1f1b-z1\": dpN, tpN, ppN, gpipe or 1f1b, z0 or z1, joined by '-')");
  };
  if (text.empty()) bad("empty");
  std::stringstream ss(text);
  for (std::string tok; std::getline(ss, tok, '-');) {
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
    const std::vector<std::string>& schedules = find_field("schedule")->choices;
    if (std::find(schedules.begin(), schedules.end(), tok) != schedules.end()) {
      if (lp.schedule) bad("schedule given twice");
      lp.schedule = static_cast<ScheduleKind>(std::find(schedules.begin(), schedules.end(), tok) - schedules.begin());
    } else if (tok == "z0" || tok == "z1" || tok == "zero0" || tok == "zero1") {
      if (lp.zero >= 0) bad("zero given twice");
      lp.zero = tok.back() - '0';
    } else {
      bad("unknown part '" + tok + "'");
    }
  }
  return lp;
}

// The preset's dimensions, as the trainer's --model takes them; `key` names the spec key for the message.
void set_preset(const TomlReader& p, const toml::node& v, const std::string& key, TrainConfig& c) {
  c.model_name = p.string(v, key);
  try {
    c.model = model_preset(c.model_name);
  } catch (const Error& e) {
    p.fail(line_of(v), "key '" + key + "': " + std::string(e.what()));
  }
}

// [model]: preset = "tiny" and any dimension overriding it.
void parse_model_table(const TomlReader& p, const toml::table& t, long line, Spec& s) {
  TrainConfig& c = s.base;
  const toml::node* preset = t.get("preset");
  if (!preset) p.fail(line, "[model] needs 'preset' (tiny, small, gpt2-124m), e.g. preset = \"tiny\"");
  set_preset(p, *preset, "model.preset", c);
  std::vector<std::string> known = {"preset"};
  for (const RunField& f : run_fields())
    if (f.role == FieldRole::model && f.key != "model") known.push_back(f.key);
  for (auto&& [mk, mv] : t) {
    const std::string mkey(mk.str());
    s.lines["model." + mkey] = line_of(mk);
    if (mkey == "preset") continue;
    const RunField* f = find_field(mkey);
    if (!f || f->role != FieldRole::model || mkey == "model") p.unknown(mk, "model", known);
    p.field(mv, "model." + mkey, *f, c);
  }
  try {
    validate(c.model);
  } catch (const Error& e) {
    p.fail(line, "[model]: " + std::string(e.what()));
  }
}

void parse_model(const TomlReader& p, const toml::node& v, Spec& s) {
  if (v.is_string()) return set_preset(p, v, "model", s.base);
  if (const toml::table* t = v.as_table()) return parse_model_table(p, *t, s.lines["model"], s);
  p.fail(line_of(v), "key 'model' must be a preset name (\"tiny\") or a table [model] (got " +
                         std::string(toml_type_name(v)) + ")");
}

// A number, a table of numbers per precision, or "derived".
void parse_fast_loss_bound(const TomlReader& p, const toml::node& v, Spec& s) {
  const std::string key = "fast_loss_bound";
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
    const std::vector<std::string>& precisions = find_field("precision")->choices;
    for (auto&& [bk, bv] : *t) {
      const std::string prec(bk.str());
      const auto at = std::find(precisions.begin(), precisions.end(), prec);
      if (at == precisions.end()) p.unknown(bk, key, precisions);
      s.fast_loss_bound_by_precision[static_cast<Precision>(at - precisions.begin())] = bound(bv, key + "." + prec);
    }
  } else {
    s.fast_loss_bound = bound(v, key);
  }
}

void parse_extra_args_by_run(const TomlReader& p, const toml::node& v, Spec& s) {
  const toml::table* t = v.as_table();
  if (!t)
    p.fail(line_of(v), "key 'extra_args_by_run' must be a table of run id = [args] (got " +
                           std::string(toml_type_name(v)) + ")");
  for (auto&& [rk, rv] : *t) {
    const std::string rkey(rk.str());
    s.lines["extra_args_by_run." + rkey] = line_of(rk);
    s.extra_args_by_run[rkey] = p.strings(rv, "extra_args_by_run." + rkey);
  }
}

void parse_layouts(const TomlReader& p, const toml::node& v, const std::string& full, Grid& g) {
  const toml::array* a = v.as_array();
  if (!a || a->empty())
    p.fail(line_of(v), "key 'grid.layouts' must be a non-empty array of layout strings such as \"dp2-tp2\"");
  for (const toml::node& e : *a) {
    const LayoutPattern lp = parse_layout(p, p.string(e, full), line_of(e));
    const bool dup =
        std::any_of(g.layouts.begin(), g.layouts.end(), [&](const LayoutPattern& o) { return o.text == lp.text; });
    if (!dup) g.layouts.push_back(lp);
  }
}

// A grid list of the values of the enumerated run field `key` (precision, numerics, schedule). A function
// template, not a generic lambda: nvcc's front end (CUDA build) rejects the latter here.
template <class E>
std::vector<E> enum_values(const TomlReader& p, const toml::node& n, const std::string& full, const std::string& key) {
  const RunField& f = *find_field(key);
  return p.list<E>(n, full, [&](const toml::node& e) { return p.enumerated<E>(e, full, f); });
}

void parse_grid_key(const TomlReader& p, const toml::key& gk, const toml::node& gv, Grid& g) {
  const std::string gkey(gk.str()), full = "grid." + gkey;
  auto degrees = [&](const toml::node& n) {
    return p.list<int>(n, full, [&](const toml::node& e) { return static_cast<int>(p.integer(e, full, 1, 4096)); });
  };
  auto choices = [&](const toml::node& n, const std::vector<std::string>& allowed) {
    return p.list<std::string>(n, full, [&](const toml::node& e) { return p.choice(e, full, allowed); });
  };
  if (gkey == "dp") g.dp = degrees(gv);
  else if (gkey == "tp") g.tp = degrees(gv);
  else if (gkey == "pp") g.pp = degrees(gv);
  else if (gkey == "zero")
    g.zero = p.list<int>(gv, full, [&](const toml::node& e) { return static_cast<int>(p.integer(e, full, 0, 1)); });
  else if (gkey == "precision") g.precision = enum_values<Precision>(p, gv, full, gkey);
  else if (gkey == "numerics") g.numerics = enum_values<Numerics>(p, gv, full, gkey);
  else if (gkey == "schedule") g.schedule = enum_values<ScheduleKind>(p, gv, full, gkey);
  else if (gkey == "batch") g.batch = choices(gv, {"strong", "weak"});
  else if (gkey == "layouts") parse_layouts(p, gv, full, g);
  else p.unknown(gk, "grid", {"dp", "tp", "pp", "zero", "precision", "numerics", "schedule", "batch", "layouts"});
}

void parse_grid(const TomlReader& p, const toml::node& v, Spec& s) {
  const toml::table* t = v.as_table();
  if (!t) p.fail(line_of(v), "key 'grid' must be a table [grid] (got " + std::string(toml_type_name(v)) + ")");
  for (auto&& [gk, gv] : *t) {
    s.lines["grid." + std::string(gk.str())] = line_of(gk);
    parse_grid_key(p, gk, gv, s.grid);
  }
}

// The run fields a spec sets at its top level, one `parity train` setting each: the training and execution
// fields of the run definition (reference/run_definition.hpp). The seed is `seeds`, a list.
bool is_setting(const RunField& f) {
  return (f.role == FieldRole::training || f.role == FieldRole::execution) && f.key != "seed";
}

// A top-level key that is one of those settings; false when `key` is none of them.
bool parse_setting(const TomlReader& p, const std::string& key, const toml::node& v, Spec& s) {
  const RunField* f = find_field(key);
  if (!f || !is_setting(*f)) return false;
  p.field(v, key, *f, s.base);
  return true;
}

const std::vector<std::string>& known_keys() {
  static const std::vector<std::string> known = [] {
    std::vector<std::string> k = {"name", "description", "model", "seeds"};
    for (const RunField& f : run_fields())
      if (is_setting(f)) k.push_back(f.key);
    for (const char* own : {"fast_loss_bound", "extra_args", "extra_args_by_run", "grid"}) k.push_back(own);
    return k;
  }();
  return known;
}

void parse_key(const TomlReader& p, const toml::key& k, const toml::node& v, Spec& s) {
  const std::vector<std::string>& known = known_keys();
  const std::string key(k.str());
  s.lines[key] = line_of(k);
  if (parse_setting(p, key, v, s)) return;
  if (key == "name") s.name = p.string(v, key);
  else if (key == "description") s.description = p.string(v, key);
  else if (key == "model") parse_model(p, v, s);
  else if (key == "seeds")
    s.seeds = p.list<uint64_t>(v, key, [&](const toml::node& e) {
      return static_cast<uint64_t>(p.integer(e, "seeds", 0, INT64_MAX));
    });
  else if (key == "fast_loss_bound") parse_fast_loss_bound(p, v, s);
  else if (key == "extra_args") s.extra_args = p.strings(v, key);
  else if (key == "extra_args_by_run") parse_extra_args_by_run(p, v, s);
  else if (key == "grid") parse_grid(p, v, s);
  else p.unknown(k, "", known);
}

toml::table parse_toml(const std::string& text, const std::string& path) {
  try {
    return toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    const auto& src = e.source();
    throw Error(path + ":" + std::to_string(src.begin.line) + ":" + std::to_string(src.begin.column) +
                ": TOML syntax error: " + std::string(e.description()));
  }
}

}  // namespace

Spec parse_spec(const std::string& text, const std::string& path) {
  Spec s;
  s.path = path;
  s.text = text;
  const TomlReader p(path);
  const toml::table root = parse_toml(text, path);
  for (auto&& [k, v] : root) parse_key(p, k, v, s);
  if (!root.contains("model"))
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

}  // namespace parity::sweep
