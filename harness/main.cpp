// parity: the command-line entry point. Subcommands live in harness/cmd_*.cpp.
#include <Kokkos_Core.hpp>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mpi.h>
#include <string>
#include <vector>

#include "harness/commands.hpp"
#include "kernels/error.hpp"
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

// OpenMP reads OMP_WAIT_POLICY once, when the program loads. With --threads > 1 the OpenMP team and BLAS's
// own thread pool take turns on the same cores, and workers of one that spin while waiting starve the other
// (fast mode on 2 cores: 3,430 tokens/s spinning, 6,082 passive). Unless the user chose a policy, the
// process restarts itself once with OMP_WAIT_POLICY=PASSIVE (same pid, arguments and environment otherwise).
void prefer_passive_openmp_waits(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY")) return;
  long threads = 1;
  for (char** a = argv + 1; *a; ++a) {
    if (std::strcmp(*a, "--threads") == 0 && a[1]) threads = std::atol(a[1]);
    if (std::strncmp(*a, "--threads=", 10) == 0) threads = std::atol(*a + 10);
  }
  if (threads <= 1) return;
  setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  execv("/proc/self/exe", argv);  // returns only on failure: then carry on with the default policy
}
}  // namespace

int main(int argc, char** argv) {
  prefer_passive_openmp_waits(argv);
  CLI::App app{"parity: a bit-exact reference trainer and conformance suite for hybrid-parallel GPT training"};
  app.require_subcommand(1);
  std::vector<parity::cli::Command> commands{parity::cli::add_train(app), parity::cli::add_bound(app)};
  for (auto add : {parity::cli::add_compare, parity::cli::add_report}) commands.push_back(add(app));
  commands.push_back(parity::cli::add_sweep(app));
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // The parser's own words, in parity's form: one "parity: error:" line and where to look.
    std::string where = "parity --help";
    for (auto& cmd : commands)
      if (cmd.app->parsed()) where = "parity " + cmd.app->get_name() + " --help";
    std::fprintf(stderr, "parity: error: %s (see %s)\n", e.what(), where.c_str());
    return 2;
  }

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
#ifdef PARITY_HAVE_CUDA
    // One GPU per rank on a node (several ranks share one when there are fewer GPUs than ranks).
    std::string dev_arg = "--kokkos-device-id=" + std::to_string(parity::cuda::select_device_for_rank());
    char prog[] = "parity";
    char* kargv[] = {prog, dev_arg.data(), nullptr};
    int kargc = 2;
    Kokkos::initialize(kargc, kargv);
#else
    Kokkos::initialize();
#endif
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
