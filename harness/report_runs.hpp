// How the report names, groups and orders runs: the layout and batch labels of the rows, which of model,
// batch shape and seed vary (they then become part of a row's key), the (precision, numerics[, model]) groups
// that tables and plots are made per, and the row order.
#pragma once
#include <string>
#include <vector>

#include "harness/report.hpp"

namespace parity::report {

// The schedule when the run is pipelined, else "".
std::string schedule_of(const Run& r);
// "dp2·tp2·pp2 · 1f1b · ZeRO-1"
std::string layout_label(const Run& r);
// "4×2" (m × b), "?" when unknown.
std::string batch_label(const Run& r);
// "tiny (L4 C128 H4 T64 V256)"
std::string model_label(const Run& r);
// The run finished (status ok, or no status: a results file).
bool ran_ok(const Run& r);
bool same_model(const Run& a, const Run& b);

struct Varying {
  bool model = false, batch = false, seed = false;
};
Varying varying(const Sweep& s);

// Key of a (precision, numerics[, model]) group, ordered fp32 < bf16 < fp16 and exact < fast.
struct GroupKey {
  std::string model;  // model_label, or "" when the sweep has one model
  std::string precision, numerics;
  bool operator<(const GroupKey& o) const;
  std::string label() const;  // "fp32 exact[, model]"
  std::string slug() const;   // "[model-]fp32-exact", for file names
};
GroupKey group_of(const Run& r, bool several_models);

// Row order of the tables: by model, then ranks, then the layout (the seed, model size and batch shape only
// break ties, so that a skipped layout without them sorts among the others).
bool layout_less(const Run* a, const Run* b);
// The runs in row order.
std::vector<const Run*> sorted_runs(const std::vector<Run>& runs);

}  // namespace parity::report
