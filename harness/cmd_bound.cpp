// `parity bound`: the fast-vs-exact bound of docs/numerics.md for a model, micro-batch size and precision.
#include <cstdio>
#include <memory>

#include "harness/commands.hpp"
#include "reference/numerics_bound.hpp"
#include "reference/run_definition.hpp"

namespace parity::cli {

Command add_bound(CLI::App& parent) {
  // The model and batch flags are the run definition's (reference/run_definition.hpp): same names, ranges
  // and messages as parity train's, applied in the table's order (the preset before its overrides).
  struct Opts {
    std::vector<std::pair<const RunField*, std::string>> given;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* app = parent.add_subcommand("bound", "print the bound on fast numerics' difference from exact (docs/numerics.md)");
  for (const char* key : {"model", "layers", "channels", "heads", "seq_len", "vocab", "micro_batch_size", "precision"}) {
    const RunField* f = find_field(key);
    app->add_option_function<std::string>(
        f->flag, [o, f](const std::string& v) { o->given.emplace_back(f, v); }, f->help);
  }
  return {app, [o]() {
            TrainConfig c;
            for (const RunField& f : run_fields())  // table order, whatever the command line's
              for (const auto& [g, v] : o->given)
                if (g == &f) f.set(c, v);
            validate(c.model);
            const FastModeBound b = fast_mode_bound(c.model, c.micro_batch_size, c.precision);
            std::printf("grad_rel %.6g\nloss_rel_step %.6g\nrho %.6g\nper_stage %.6g\n", b.grad_rel, b.loss_rel_step,
                        b.rho, b.per_stage);
            return 0;
          }};
}

}  // namespace parity::cli
