#include "harness/sweep_record.hpp"

#include <filesystem>

#include "kernels/error.hpp"
#include "reference/h5io.hpp"
#include "reference/run_definition.hpp"

namespace fs = std::filesystem;

namespace parity::sweep {
namespace {

Attrs verdict_attrs(const RunDef& r, const Judgement& v, const JobResult& res, const std::string& launcher) {
  return {{"parity", std::string(parity_attribute(v.verdict))},
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
          {"status", std::string(status_attribute(v.verdict))},
          {"exit_code", int64_t(res.exit_code)},
          {"output_tail", res.output_tail},
          {"seconds", res.seconds},
          {"command", res.command},
          {"launcher", launcher},
          {"ranks", int64_t(r.ranks())}};
}

}  // namespace

std::string only_run_group(const H5Reader& r) {
  if (!r.has("/runs")) throw Error(r.path() + " has no /runs group");
  const auto runs = r.list("/runs");
  if (runs.size() != 1) throw Error(r.path() + " holds " + std::to_string(runs.size()) + " runs, expected one");
  return "/runs/" + runs[0];
}

Attrs definition_attrs(const TrainConfig& c) {
  Attrs a;
  for (const auto& [name, value] : recorded_attrs(c)) a.emplace_back(name, value);
  a.emplace_back("ranks", int64_t(c.dp * c.tp * c.pp));
  return a;
}

Record finished_record(const RunDef& r, const Judgement& v, const JobResult& res, const std::string& results,
                       const std::string& launcher) {
  Record rec;
  rec.id = r.id;
  rec.verdict = v.verdict;
  rec.status = status_attribute(v.verdict);
  rec.max_rel = v.max_rel;
  rec.seconds = res.seconds;
  rec.ranks = r.ranks();
  rec.group.path = "/runs/" + r.id;
  // The whole group of the run's own file: the trainer's attributes and datasets (pipeline figures, peak,
  // provenance, per-step series) come along without the sweep naming them.
  if (fs::exists(results)) {
    try {
      rec.group.source_path = only_run_group(H5Reader(results));
      rec.group.source_file = results;
    } catch (const Error&) {
    }
  }
  rec.group.attrs = definition_attrs(r.config);
  const Attrs verdict = verdict_attrs(r, v, res, launcher);
  rec.group.attrs.insert(rec.group.attrs.end(), verdict.begin(), verdict.end());
  return rec;
}

}  // namespace parity::sweep
