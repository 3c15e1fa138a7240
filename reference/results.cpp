#include "reference/results.hpp"

#include <variant>

#include "reference/h5io.hpp"
#include "reference/provenance.hpp"
#include "reference/run_definition.hpp"

namespace parity {

void write_results(const std::string& path, const TrainConfig& c, const std::string& run_id, const TrainResult& r) {
  const std::vector<StepRecord>& steps = r.steps;
  H5Writer w(path);
  const std::string g = "/runs/" + run_id;
  const Provenance p = collect_provenance();
  w.attr("/", "format", std::string("parity-results-1"));
  for (const auto& [name, value] : recorded_attrs(c))  // the run's definition, as the table names it
    std::visit([&, n = name](const auto& v) { w.attr(g, n, v); }, value);
  w.attr(g, "launcher", std::string("direct"));
  write_provenance(w, g, p);
  const hsize_t n = steps.size();
  std::vector<int64_t> step(n);
  std::vector<float> loss(n), norm(n), lr(n), scale(n);
  std::vector<int32_t> skipped(n);
  std::vector<double> sec(n), tps(n), comm(n), idle(n), compute(n);
  for (size_t i = 0; i < n; ++i) {
    step[i] = steps[i].step;
    loss[i] = steps[i].loss;
    norm[i] = steps[i].grad_norm;
    lr[i] = steps[i].lr;
    scale[i] = steps[i].loss_scale;
    skipped[i] = steps[i].skipped ? 1 : 0;
    sec[i] = steps[i].seconds;
    tps[i] = steps[i].tokens_per_second;
    comm[i] = steps[i].comm_seconds;
    idle[i] = steps[i].idle_seconds;
    compute[i] = steps[i].seconds - steps[i].comm_seconds - steps[i].idle_seconds;
  }
  w.write(g + "/step", step.data(), {n});
  w.write(g + "/loss", loss.data(), {n});
  w.write(g + "/grad_norm", norm.data(), {n});
  w.write(g + "/lr", lr.data(), {n});
  w.write(g + "/loss_scale", scale.data(), {n});
  w.write(g + "/skipped", skipped.data(), {n});
  w.write(g + "/step_seconds", sec.data(), {n});
  w.write(g + "/tokens_per_second", tps.data(), {n});
  w.write(g + "/compute_seconds", compute.data(), {n});
  w.write(g + "/comm_seconds", comm.data(), {n});
  w.write(g + "/idle_seconds", idle.data(), {n});
  w.attr(g, "theoretical_bubble", r.theoretical_bubble);
  w.attr(g, "idle_fraction", r.idle_fraction);
  w.write(g + "/stage_idle", r.stage_idle.data(), {static_cast<hsize_t>(r.stage_idle.size())});
  w.commit();
}

}  // namespace parity
