// The verdict of a sweep's run, as one value: what the run was judged to be against its baseline, or how it
// ended when it could not be judged. The merged file spells it in two string attributes of the run's group
// (docs/hdf5-schema.md, docs/sweeps.md), `parity` and `status`; the strings are converted here and only here,
// so that the sweep and the report work with the enum and old files keep reading.
#pragma once
#include <optional>
#include <string>

namespace parity::sweep {

enum class Verdict {
  none,          // no verdict: a `parity train --results` file, or an unknown word in the file
  baseline,      // the single-device exact run the others are compared with
  bitwise,       // every compared bit equals the baseline's
  within_bound,  // fast numerics: the per-step loss within the bound
  failed,        // judged and found different (or its baseline did not complete)
  crashed,       // exited non-zero or wrote no files: recorded as parity "failed", status "crashed"
  timeout,       // killed at the sweep's timeout: parity "failed", status "timeout"
  skipped,       // the sweep did not run the layout (/skipped groups)
};

// The word the tables, the sweep's log and the docs use: "baseline", "within-bound", "crashed", ...; "" for none.
const char* to_string(Verdict v);

// The `parity` attribute written for a verdict: crashed and timeout runs are "failed" (their `status` says
// why), so that files read the same as before the enum.
const char* parity_attribute(Verdict v);

// The `status` attribute a run group gets: "ok", "crashed", "timeout" ("skipped" for skipped layouts).
const char* status_attribute(Verdict v);

// From the two attributes (either "" when absent). A status of crashed or timeout decides; otherwise the parity
// word. nullopt for a word that is not one of to_string's.
std::optional<Verdict> parse_verdict(const std::string& parity, const std::string& status);

// failed, crashed or timeout: what makes the sweep's exit status non-zero.
bool is_failure(Verdict v);

}  // namespace parity::sweep
