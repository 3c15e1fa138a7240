// `parity train`: the reference trainer on the ranks of MPI_COMM_WORLD. Its flags are the run definition's
// table (reference/run_definition.hpp): each is read as text and parsed, range-checked and applied by the
// table, in the table's order (the model preset before the dimensions that override it).
#include <map>
#include <memory>

#include "harness/commands.hpp"
#include "reference/run_definition.hpp"
#include "reference/trainer.hpp"

namespace parity::cli {

namespace {
std::string type_name(const RunField& f) {
  switch (f.kind) {
    case FieldKind::integer: return "INT";
    case FieldKind::real: return "NUMBER";
    case FieldKind::list: return "N,N,...";
    case FieldKind::choice: {
      std::string s;
      for (const std::string& x : f.choices) s += (s.empty() ? "" : "|") + x;
      return s;
    }
    default: return f.role == FieldRole::output && f.flag != "--save-every" && f.flag != "--dump-step" ? "FILE" : "TEXT";
  }
}
}  // namespace

Command add_train(CLI::App& parent) {
  auto given = std::make_shared<std::map<std::string, std::string>>();  // flag -> text, for the flags given
  auto flags = std::make_shared<std::map<std::string, bool>>();
  CLI::App* app = parent.add_subcommand("train", "train GPT-2 with the reference trainer");
  const TrainConfig defaults;
  for (const RunField& f : run_fields()) {
    if (f.kind == FieldKind::flag) {
      app->add_flag(f.flag, (*flags)[f.flag], f.help);
      continue;
    }
    CLI::Option* o = app->add_option(f.flag, (*given)[f.flag], f.help);
    if (f.role == FieldRole::testing) o->group("");
    o->type_name(type_name(f));
    const std::string d = f.get(defaults);
    if (f.role != FieldRole::output && !d.empty()) o->default_str(d);
  }
  return {app, [app, given, flags]() {
            TrainConfig c;
            for (const RunField& f : run_fields()) {
              if (f.kind == FieldKind::flag) {
                if ((*flags)[f.flag]) f.set(c, "true");
              } else if (app->count(f.flag) > 0) {
                f.set(c, (*given)[f.flag]);
              }
            }
            train(c);
            return 0;
          },
          true};
}

}  // namespace parity::cli
