// A run of the sweep as `parity train` arguments, and the layout part of its id for messages.
#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "harness/spec.hpp"

namespace parity::sweep {
namespace {

// The shortest decimal that reads back as the same float (the trainer parses its flags as float).
std::string fmt_float(float v) {
  char buf[64];
  for (int digits = 6; digits <= 9; ++digits) {
    std::snprintf(buf, sizeof buf, "%.*g", digits, static_cast<double>(v));
    if (std::strtof(buf, nullptr) == v) break;
  }
  return buf;
}

}  // namespace

std::string describe_layout(const TrainConfig& c) {
  std::string s = "dp" + std::to_string(c.dp) + "-tp" + std::to_string(c.tp) + "-pp" + std::to_string(c.pp);
  if (c.pp > 1) s += "-" + c.schedule;
  if (c.zero) s += "-z1";
  return s;
}

std::vector<std::string> train_args(const RunDef& r) {
  const TrainConfig& c = r.config;
  std::vector<std::string> a = {"--model", c.model_name,
                                "--layers", std::to_string(c.model.L),
                                "--channels", std::to_string(c.model.C),
                                "--heads", std::to_string(c.model.H),
                                "--seq-len", std::to_string(c.model.T),
                                "--vocab", std::to_string(c.model.V),
                                "--data", c.data,
                                "--seed", std::to_string(c.seed),
                                "--steps", std::to_string(c.steps),
                                "--micro-batches", std::to_string(c.micro_batches),
                                "--micro-batch-size", std::to_string(c.micro_batch_size),
                                "--lr", fmt_float(c.lr),
                                "--warmup", std::to_string(c.warmup),
                                "--lr-min-frac", fmt_float(c.lr_min_frac),
                                "--weight-decay", fmt_float(c.adam.weight_decay),
                                "--grad-clip", fmt_float(c.grad_clip),
                                "--precision", c.precision,
                                "--numerics", to_string(c.numerics),
                                "--dp", std::to_string(c.dp),
                                "--tp", std::to_string(c.tp),
                                "--pp", std::to_string(c.pp)};
  if (c.pp > 1) a.insert(a.end(), {"--schedule", c.schedule});
  if (c.zero) a.insert(a.end(), {"--zero", std::to_string(c.zero)});
  // extra_args may set --check-consistency for one run (e.g. to catch an injected fault); the spec's otherwise.
  const bool own_check = std::find(r.extra_args.begin(), r.extra_args.end(), "--check-consistency") != r.extra_args.end();
  if (c.check_consistency > 0 && !own_check)
    a.insert(a.end(), {"--check-consistency", std::to_string(c.check_consistency)});
  a.insert(a.end(), r.extra_args.begin(), r.extra_args.end());
  return a;
}

}  // namespace parity::sweep
