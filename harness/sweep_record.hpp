// One run as the merged file records it (docs/sweeps.md, "The merged file"): its group, copied whole from the
// run's results file (or from the previous merged file when resumed) so that everything the trainer wrote
// survives, with the sweep's definition and verdict attributes set on top; and what the summary prints of it.
#pragma once
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "harness/launcher.hpp"
#include "harness/merge.hpp"
#include "harness/spec.hpp"
#include "harness/sweep.hpp"

namespace parity {
class H5Reader;
}

namespace parity::sweep {

struct Record {
  std::string id;
  MergeGroup group;
  Verdict verdict = Verdict::none;
  std::string status;  // the `status` attribute: ok, crashed, timeout
  double max_rel = std::numeric_limits<double>::quiet_NaN(), seconds = std::numeric_limits<double>::quiet_NaN();
  int ranks = 1;
};

// The single run group of a `parity train --results` file; parity::Error otherwise.
std::string only_run_group(const H5Reader& r);

// The run definition as attributes (dp, tp, pp, precision, ..., ranks): on run groups and on /skipped groups.
Attrs definition_attrs(const TrainConfig& c);

// The record of a run just finished: its results file's group (if it wrote one) with the definition and the
// verdict attributes; `launcher` is the launcher's name.
Record finished_record(const RunDef& r, const Judgement& v, const JobResult& res, const std::string& results,
                       const std::string& launcher);

// --resume (sweep_resume.cpp): the runs `out` holds already, as records that copy their groups from it, and
// their ids. Runs that crashed or timed out are left out with `retry_failed`, and so is a run whose verdict
// this version cannot read (it runs again). parity::Error when `out` is not a sweep file or holds a run of
// another definition under the same id.
struct Resumed {
  std::vector<Record> records;
  std::set<std::string> complete;
};
Resumed resumed_records(const std::string& out, const std::string& out_arg, const Expansion& x, bool retry_failed);

}  // namespace parity::sweep
