// `parity bound`: the fast-vs-exact bound of docs/numerics.md for a model, micro-batch size and precision.
#include <cstdio>
#include <memory>

#include "harness/commands.hpp"
#include "reference/numerics_bound.hpp"

namespace parity::cli {

Command add_bound(CLI::App& parent) {
  struct Opts {
    std::string model = "tiny", precision = "fp32";
    long b = 4, L = 0, C = 0, T = 0, V = 0;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* app = parent.add_subcommand("bound", "print the bound on fast numerics' difference from exact (docs/numerics.md)");
  app->add_option("--model", o->model, "model preset")->capture_default_str();
  app->add_option("--layers", o->L, "override L");
  app->add_option("--channels", o->C, "override C");
  app->add_option("--seq-len", o->T, "override T");
  app->add_option("--vocab", o->V, "override V");
  app->add_option("--micro-batch-size", o->b, "sequences per micro-batch")->capture_default_str();
  app->add_option("--precision", o->precision, "fp32, bf16 or fp16")->capture_default_str();
  return {app, [o]() {
            ModelConfig m = model_preset(o->model);
            if (o->L) m.L = o->L;
            if (o->C) m.C = o->C;
            if (o->T) m.T = o->T;
            if (o->V) m.V = o->V;
            const FastModeBound b = fast_mode_bound(m, o->b, parse_precision(o->precision));
            std::printf("grad_rel %.6g\nloss_rel_step %.6g\nrho %.6g\nper_stage %.6g\n", b.grad_rel, b.loss_rel_step,
                        b.rho, b.per_stage);
            return 0;
          }};
}

}  // namespace parity::cli
