#include "reference/progress.hpp"

#include <cstdio>

namespace parity {

void print_header(const TrainConfig& c, const std::string& data) {
  std::printf("parity train: model %s %s, %ld params, data %s, %ld x %ld x %ld tokens/step, %s %s, "
              "dp %d tp %d pp %d%s%s, %d thread%s per rank\n",
              c.model_name.c_str(), c.model.describe().c_str(), c.model.flops_params(), data.c_str(), c.micro_batches,
              c.micro_batch_size, c.model.T, to_string(c.precision), to_string(c.numerics), c.dp, c.tp, c.pp,
              c.pp > 1 ? (std::string(" ") + to_string(c.schedule)).c_str() : "", c.zero ? " zero1" : "", c.threads, c.threads > 1 ? "s" : "");
}

void print_step(const TrainConfig& c, const StepRecord& r) {
  std::printf("step %5ld/%ld | loss %.6f | grad norm %.4f | lr %.3e | %8.1f ms | %9.0f tok/s", r.step, c.steps, r.loss,
              r.grad_norm, r.lr, r.seconds * 1e3, r.tokens_per_second);
  if (c.pp > 1) std::printf(" | idle %4.1f%%", 100.0 * r.idle_seconds / r.seconds);
  std::printf("\n");
  std::fflush(stdout);
}

void print_skipped(const TrainConfig& c, long step, float used_scale, double new_scale) {
  std::printf("step %5ld/%ld | gradient overflow at loss scale %g: step skipped on every rank, scale now %g\n", step,
              c.steps, static_cast<double>(used_scale), new_scale);
}

void print_pipeline(const TrainConfig& c, const TrainResult& r) {
  std::printf("pipeline idle per stage:");
  for (int st = 0; st < c.pp; ++st) std::printf(" %.1f%%", 100.0 * r.stage_idle[st]);
  std::printf(" (mean %.1f%%); theoretical bubble (p-1)/(m/dp+p-1) = %.1f%%\n", 100.0 * r.idle_fraction,
              100.0 * r.theoretical_bubble);
}

}  // namespace parity
