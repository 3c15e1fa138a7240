#include "harness/sweep_record.hpp"

#include <filesystem>

#include "kernels/error.hpp"
#include "reference/h5io.hpp"

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
