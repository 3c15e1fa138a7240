#include "harness/report_runs.hpp"

#include <algorithm>
#include <cctype>
#include <set>
#include <tuple>

namespace parity::report {
namespace {

int precision_rank(const std::string& p) { return p == "fp32" ? 0 : p == "bf16" ? 1 : p == "fp16" ? 2 : 3; }
int numerics_rank(const std::string& n) { return n == "exact" ? 0 : n == "fast" ? 1 : 2; }

}  // namespace

std::string schedule_of(const Run& r) {
  return r.pp > 1 && !r.schedule.empty() && r.schedule != "none" ? r.schedule : "";
}

std::string layout_label(const Run& r) {
  std::string s = "dp" + std::to_string(r.dp) + "·tp" + std::to_string(r.tp) + "·pp" + std::to_string(r.pp);
  if (!schedule_of(r).empty()) s += " · " + schedule_of(r);
  if (r.zero > 0) s += " · ZeRO-" + std::to_string(r.zero);
  return s;
}

std::string batch_label(const Run& r) {
  if (r.micro_batches < 0 || r.micro_batch_size < 0) return "?";
  return std::to_string(r.micro_batches) + "×" + std::to_string(r.micro_batch_size);
}

std::string model_label(const Run& r) {
  std::string m = r.model.empty() ? "model" : r.model;
  return m + " (L" + std::to_string(r.layers) + " C" + std::to_string(r.channels) + " H" + std::to_string(r.heads) +
         " T" + std::to_string(r.seq_len) + " V" + std::to_string(r.vocab) + ")";
}

bool ran_ok(const Run& r) { return r.status.empty() || r.status == "ok"; }

bool same_model(const Run& a, const Run& b) {
  return a.model == b.model && a.layers == b.layers && a.channels == b.channels && a.heads == b.heads &&
         a.seq_len == b.seq_len && a.vocab == b.vocab;
}

Varying varying(const Sweep& s) {
  std::set<std::string> models, batches;
  std::set<int64_t> seeds;
  for (const Run& r : s.runs) {
    models.insert(r.model + "/" + std::to_string(r.layers) + "/" + std::to_string(r.channels) + "/" +
                  std::to_string(r.heads) + "/" + std::to_string(r.seq_len) + "/" + std::to_string(r.vocab));
    batches.insert(batch_label(r));
    seeds.insert(r.seed);
  }
  Varying v;
  v.model = models.size() > 1;
  v.batch = batches.size() > 1;
  v.seed = seeds.size() > 1;
  return v;
}

bool GroupKey::operator<(const GroupKey& o) const {
  return std::make_tuple(model, precision_rank(precision), precision, numerics_rank(numerics), numerics) <
         std::make_tuple(o.model, precision_rank(o.precision), o.precision, numerics_rank(o.numerics), o.numerics);
}

std::string GroupKey::label() const { return precision + " " + numerics + (model.empty() ? "" : ", " + model); }

std::string GroupKey::slug() const {
  std::string m;
  if (!model.empty()) {
    for (char c : model.substr(0, model.find(' '))) m += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
    m += "-";
  }
  return m + precision + "-" + numerics;
}

GroupKey group_of(const Run& r, bool several_models) {
  return {several_models ? model_label(r) : "", r.precision, r.numerics};
}

bool layout_less(const Run* a, const Run* b) {
  return std::make_tuple(a->model, a->ranks, a->dp, a->tp, a->pp, schedule_of(*a), a->zero, a->seed, a->layers,
                         a->channels, a->micro_batches, a->micro_batch_size, a->id) <
         std::make_tuple(b->model, b->ranks, b->dp, b->tp, b->pp, schedule_of(*b), b->zero, b->seed, b->layers,
                         b->channels, b->micro_batches, b->micro_batch_size, b->id);
}

std::vector<const Run*> sorted_runs(const std::vector<Run>& runs) {
  std::vector<const Run*> out;
  for (const Run& r : runs) out.push_back(&r);
  std::sort(out.begin(), out.end(), layout_less);
  return out;
}

}  // namespace parity::report
