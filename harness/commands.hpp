// The subcommands of the `parity` command line. Each adds itself to the CLI11 app and returns the function
// that runs it once parsed (exit status; parity::Error is caught and reported by main).
#pragma once
#include <CLI/CLI.hpp>
#include <functional>

namespace parity::cli {

struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
  bool needs_runtime = false;  // MPI and Kokkos (the trainer); file tools start faster without them
};

Command add_train(CLI::App& app);
Command add_bound(CLI::App& app);
Command add_compare(CLI::App&); Command add_report(CLI::App&);
Command add_sweep(CLI::App&);

}  // namespace parity::cli
