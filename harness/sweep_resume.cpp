// --resume: the runs a previous sweep recorded in the output file are kept (copied from it) and not run again.
#include <cstdio>
#include <map>

#include "harness/sweep_record.hpp"
#include "kernels/error.hpp"
#include "reference/h5io.hpp"

namespace parity::sweep {
namespace {

// A run already in the output file must be the same run definition as the spec's.
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

Record stored_record(const H5Reader& r, const std::string& out, const std::string& id, Verdict verdict,
                     const std::string& status) {
  const std::string g = "/runs/" + id;
  Record rec;
  rec.id = id;
  rec.group = {g, out, g, {}};
  rec.verdict = verdict;
  rec.status = status;
  if (r.has_attr(g, "max_rel_diff")) rec.max_rel = r.attr_double(g, "max_rel_diff");
  if (r.has_attr(g, "seconds")) rec.seconds = r.attr_double(g, "seconds");
  rec.ranks = r.has_attr(g, "ranks") ? static_cast<int>(r.attr_int(g, "ranks")) : 1;
  return rec;
}

}  // namespace

Resumed resumed_records(const std::string& out, const std::string& out_arg, const Expansion& x, bool retry_failed) {
  const H5Reader r(out);
  if (!r.has_attr("/", "format") || r.attr_string("/", "format") != "parity-sweep-1")
    throw Error("cannot resume " + out_arg + ": it is not a parity sweep file (format attribute is not parity-sweep-1)");
  std::map<std::string, const RunDef*> by_id;
  for (const auto& run : x.runs) by_id[run.id] = &run;
  Resumed done;
  if (!r.has("/runs")) return done;
  for (const std::string& id : r.list("/runs")) {
    const std::string g = "/runs/" + id;
    if (!r.has_attr(g, "parity")) continue;
    const std::string status = r.has_attr(g, "status") ? r.attr_string(g, "status") : "ok";
    const std::optional<Verdict> verdict = parse_verdict(r.attr_string(g, "parity"), status);
    if (!verdict || (retry_failed && status != "ok")) continue;
    if (by_id.count(id)) check_same_definition(r, g, *by_id[id]);
    done.records.push_back(stored_record(r, out, id, *verdict, status));
    done.complete.insert(id);
  }
  return done;
}

}  // namespace parity::sweep
