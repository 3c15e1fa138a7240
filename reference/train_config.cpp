#include "reference/train_config.hpp"

#include <cmath>
#include <filesystem>

#include "kernels/error.hpp"
#include "reference/memory_estimate.hpp"

namespace parity {

static void check_outputs(const TrainConfig& c);

void validate(const TrainConfig& c) {
  validate(c.model);
  auto need = [](bool ok, const std::string& what) {
    if (!ok) throw Error(what);
  };
  need(c.steps >= 1, "--steps must be >= 1");
  need(c.micro_batches >= 1, "--micro-batches must be >= 1");
  need(c.micro_batch_size >= 1, "--micro-batch-size must be >= 1");
  need(c.comm != CommKind::nccl || c.target == Target::device, "--comm nccl needs --target device (NCCL reads device memory)");
  need(c.threads >= 1 && c.threads <= 1024, "--threads must be between 1 and 1024, got " + std::to_string(c.threads));
  if (c.numerics == Numerics::exact)
    need((c.micro_batches & (c.micro_batches - 1)) == 0,
         "--micro-batches " + std::to_string(c.micro_batches) +
             " is not a power of two, which exact mode requires (the micro-batch tree must split evenly "
             "over data-parallel ranks); use 1, 2, 4, ... or --numerics fast");
  const LossScaleConfig& ls = c.loss_scale;
  need(ls.init >= ls.min && ls.min > 0 && std::isfinite(ls.init), "--loss-scale must be finite and >= --loss-scale-min > 0");
  need(ls.growth >= 1 && ls.backoff > 0 && ls.backoff < 1, "--loss-scale-growth must be >= 1 and --loss-scale-backoff in (0, 1)");
  need(ls.interval >= 1 && ls.hysteresis >= 1, "--loss-scale-interval and --loss-scale-hysteresis must be >= 1");
  auto pow2 = [](long x) { return x >= 1 && (x & (x - 1)) == 0; };
  need(c.zero == 0 || c.zero == 1, "--zero must be 0 or 1");
  need(c.micro_batches % c.dp == 0, "--micro-batches " + std::to_string(c.micro_batches) +
                                        " does not split over --dp " + std::to_string(c.dp) +
                                        " (each data-parallel rank owns a contiguous range of micro-batches)");
  need(c.model.H % c.tp == 0, "heads H=" + std::to_string(c.model.H) + " do not split over --tp " + std::to_string(c.tp));
  need(c.model.C % (32L * c.tp) == 0, "channels C=" + std::to_string(c.model.C) + " over --tp " + std::to_string(c.tp) +
                                          " leaves a shard that is not a whole number of 32-element blocks");
  need(c.tp <= 8, "--tp is at most 8 (the vocabulary is padded to a multiple of 256 = 32 x 8)");
  if (c.numerics == Numerics::exact)
    need(pow2(c.dp) && pow2(c.tp),
         "exact mode needs --dp and --tp to be powers of two, so that each rank's partial sum is a subtree of "
         "the canonical tree (got dp " + std::to_string(c.dp) + ", tp " + std::to_string(c.tp) + "); use --numerics fast");
  need(c.check_consistency >= 0, "--check-consistency must be >= 0");
  need(c.lr >= 0 && std::isfinite(c.lr), "--lr must be a finite number >= 0");
  need(c.warmup >= 0, "--warmup must be >= 0");
  need(c.lr_min_frac >= 0 && c.lr_min_frac <= 1, "--lr-min-frac must be a number in [0, 1]");
  need(c.adam.weight_decay >= 0 && std::isfinite(c.adam.weight_decay), "--weight-decay must be a finite number >= 0");
  need(c.grad_clip >= 0, "--grad-clip must be >= 0");
  need(c.save_every >= 0, "--save-every must be >= 0");
  need(c.save_every == 0 || !c.checkpoint_out.empty(), "--save-every needs --checkpoint-out");
  need(c.dump_grads.empty() || (c.dump_step >= 1 && c.dump_step <= c.steps),
       "--dump-grads needs --dump-step K with 1 <= K <= --steps");
  need(c.dump_step == 0 || !c.dump_grads.empty(), "--dump-step needs --dump-grads FILE");
  check_memory(c);
  check_outputs(c);
}

// Fail before training, not after it, when an output cannot be written, and when two outputs name one file
// (the second write would replace the first: a checkpoint lost behind the results, say).
static void check_outputs(const TrainConfig& c) {
  namespace fs = std::filesystem;
  const std::vector<std::pair<const char*, const std::string*>> outs = {
      {"--results", &c.results}, {"--checkpoint-out", &c.checkpoint_out}, {"--dump-grads", &c.dump_grads}};
  for (size_t i = 0; i < outs.size(); ++i)
    for (size_t j = i + 1; j < outs.size(); ++j) {
      const std::string& a = *outs[i].second;
      const std::string& b = *outs[j].second;
      std::error_code ea, eb;
      if (a.empty() || b.empty() || fs::weakly_canonical(fs::absolute(a), ea) != fs::weakly_canonical(fs::absolute(b), eb)) continue;
      throw Error(std::string(outs[i].first) + " and " + outs[j].first + " name the same file " + a +
                  ": one would replace the other; give each output its own path");
    }
  auto need = [](bool ok, const std::string& what) {
    if (!ok) throw Error(what);
  };
  for (const std::string* out : {&c.results, &c.checkpoint_out, &c.dump_grads}) {
    if (out->empty()) continue;
    const fs::path dir = fs::path(*out).parent_path().empty() ? fs::path(".") : fs::path(*out).parent_path();
    std::error_code ec;
    need(fs::is_directory(dir, ec), "cannot write " + *out + ": directory " + dir.string() + " does not exist");
    need(!fs::is_directory(*out, ec), "cannot write " + *out + ": it is a directory");
  }
}

float learning_rate(const TrainConfig& c, long s) {
  if (s < c.warmup) return static_cast<float>(c.lr * static_cast<double>(s + 1) / c.warmup);
  const long decay_steps = c.steps - c.warmup;
  if (decay_steps <= 1) return c.lr;
  const double progress = static_cast<double>(s - c.warmup) / (decay_steps - 1);
  const double cosine = 0.5 * (1.0 + std::cos(3.141592653589793 * progress));
  const double lo = c.lr * static_cast<double>(c.lr_min_frac);
  return static_cast<float>(lo + (c.lr - lo) * cosine);
}

}  // namespace parity
