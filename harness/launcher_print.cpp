// The print launcher: shows the command of every run, as a shell line that can be pasted, and runs nothing.
#include "harness/launcher.hpp"

namespace parity::sweep {
namespace {

class PrintLauncher : public Launcher {
 public:
  explicit PrintLauncher(const LauncherOptions& o) : o_(o) {}
  std::string name() const override { return "print"; }
  bool executes() const override { return false; }
  std::string command(const Job& job) const override {
    return "(mkdir -p " + shell_quote(job.workdir) + " && cd " + shell_quote(job.workdir) + " && " +
           shell_join(mpiexec_command(o_, job)) + ")";
  }
  JobResult run(const Job& job) override {
    JobResult r;
    r.command = command(job);
    return r;
  }

 private:
  LauncherOptions o_;
};

}  // namespace

std::unique_ptr<Launcher> make_print_launcher(const LauncherOptions& o) { return std::make_unique<PrintLauncher>(o); }

}  // namespace parity::sweep
