// parity: the command-line entry point. Subcommands live in harness/cmd_*.cpp.
#include <Kokkos_Core.hpp>
#include <cstdio>
#include <mpi.h>
#include <vector>

#include "harness/commands.hpp"
#include "reference/error.hpp"
#ifdef PARITY_HAVE_CUDA
#include "kernels/cuda/device_check.hpp"
#endif

namespace {
// A rank that fails alone (a file only it reads, a check only it sees) must not leave the others waiting in
// a collective forever.
void abort_others(int rc) {
  int initialized = 0, size = 1;
  MPI_Initialized(&initialized);
  if (!initialized) return;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size > 1) MPI_Abort(MPI_COMM_WORLD, rc);
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"parity: a bit-exact reference trainer and conformance suite for hybrid-parallel GPT training"};
  app.require_subcommand(1);
  std::vector<parity::cli::Command> commands{parity::cli::add_train(app), parity::cli::add_bound(app)};
  for (auto add : {parity::cli::add_compare, parity::cli::add_report}) commands.push_back(add(app));
  commands.push_back(parity::cli::add_sweep(app));
  CLI11_PARSE(app, argc, argv);

  bool runtime = false;
  for (auto& cmd : commands) runtime |= cmd.app->parsed() && cmd.needs_runtime;
  int rc = 0;
  if (runtime) {
    MPI_Init(&argc, &argv);
#ifdef PARITY_HAVE_CUDA
    // The CUDA build needs a usable GPU before Kokkos starts (docs/gpu.md): say clearly when there is none.
    if (const std::string why = parity::cuda::device_problem(); !why.empty()) {
      std::fprintf(stderr, "parity: error: %s\n", why.c_str());
      MPI_Finalize();
      return 1;
    }
#endif
    Kokkos::initialize();
  }
  try {
    for (auto& cmd : commands)
      if (cmd.app->parsed()) rc = cmd.run();
  } catch (const parity::Error& e) {
    std::fprintf(stderr, "parity: error: %s\n", e.what());
    rc = 1;
    abort_others(rc);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "parity: internal error: %s\n", e.what());
    rc = 2;
    abort_others(rc);
  }
  if (runtime) {
    Kokkos::finalize();
    MPI_Finalize();
  }
  return rc;
}
