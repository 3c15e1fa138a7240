// The subcommands of the `parity` command line. Each adds itself to the CLI11 app and returns the function
// that runs it once parsed (exit status; parity::Error is caught and reported by main).
#pragma once
#include <CLI/CLI.hpp>
#include <functional>

namespace parity::cli {

struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

Command add_train(CLI::App& app);

}  // namespace parity::cli
