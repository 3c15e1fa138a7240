// How `parity sweep` starts one run: one interface, three launchers.
//   local  mpiexec on this machine (oversubscribing when asked or when ranks > cores)
//   slurm  one sbatch job per run from an editable template, srun inside the allocation
//   print  prints the command of each run; runs nothing, writes nothing
// A launcher runs one job at a time and returns when it has finished, failed or been killed at its timeout.
#pragma once
#include <memory>
#include <string>
#include <vector>

namespace parity::sweep {

struct Job {
  std::string id;                 // the run id (job names, messages)
  int ranks = 1;
  std::vector<std::string> argv;  // the program and its arguments: {"/path/parity", "train", ...}
  std::string workdir;            // exists; the run's files and its log go here
  double timeout_s = 0;           // 0 = no limit
};

enum class JobStatus { ok, crashed, timeout };
const char* to_string(JobStatus s);

struct JobResult {
  JobStatus status = JobStatus::ok;
  int exit_code = 0;         // of the launcher command (mpiexec, the Slurm job); -1 if killed
  std::string output_tail;   // last lines of the run's stdout + stderr
  std::string command;       // what was run, as a shell line
  double seconds = 0;        // wall time
};

class Launcher {
 public:
  virtual ~Launcher() = default;
  virtual std::string name() const = 0;
  // False for `print`: nothing is run and nothing is written.
  virtual bool executes() const { return true; }
  // The command line that runs the job (for `print` and for the record).
  virtual std::string command(const Job& job) const = 0;
  virtual JobResult run(const Job& job) = 0;
};

struct LauncherOptions {
  std::string mpiexec = "mpiexec";
  bool oversubscribe = false;  // pass --oversubscribe (local: also done when ranks > cores)
  std::string slurm_template;  // empty: the shipped one (harness/slurm-job.sh.in)
  double poll_seconds = 1.0;   // Slurm: how often the job state is polled
};

std::unique_ptr<Launcher> make_local_launcher(const LauncherOptions& o);
std::unique_ptr<Launcher> make_slurm_launcher(const LauncherOptions& o);
std::unique_ptr<Launcher> make_print_launcher(const LauncherOptions& o);
// "local" | "slurm" | "print"; throws parity::Error otherwise.
std::unique_ptr<Launcher> make_launcher(const std::string& name, const LauncherOptions& o);

// Helpers shared by the launchers (launcher_local.cpp).
// Throws parity::Error naming `program` and `what_for` unless it is an executable path or found in $PATH.
void require_program(const std::string& program, const std::string& what_for);
// `mpiexec -n R [--oversubscribe] argv...` for this machine (local and print launchers).
std::vector<std::string> mpiexec_command(const LauncherOptions& o, const Job& job);
std::string shell_quote(const std::string& s);
std::string shell_join(const std::vector<std::string>& argv);
// The last `max_lines` lines (at most `max_bytes` bytes) of a file; "" if it cannot be read.
std::string file_tail(const std::string& path, std::size_t max_lines = 40, std::size_t max_bytes = 4000);
// The environment for a child: this process's, minus the variables of an MPI singleton (the sweep process
// itself is an MPI process), plus OMPI_ALLOW_RUN_AS_ROOT* when running as root.
std::vector<std::string> child_environment();
// SIGINT / SIGTERM / SIGHUP while a sweep runs: the handlers pass the signal on to the running job's process
// group (the local launcher) and remember it; the launchers then stop (the Slurm launcher scancels its job)
// and the sweep stops after the files of the runs finished so far. interrupted() is the signal, 0 if none.
void install_interrupt_handlers();
int interrupted();
// Records the environment as it is now; call before MPI_Init (child_environment() then starts from it).
void snapshot_environment();
// Runs argv in its own process group with stdout and stderr appended to `log` (and stdin from /dev/null),
// in `workdir`, with child_environment() plus `extra_env` ("NAME=value"); kills the whole group (SIGTERM,
// then SIGKILL after a grace period) past `timeout_s`.
struct ProcessResult {
  bool timed_out = false;
  bool signalled = false;
  int exit_code = 0;  // exit status, or 128 + signal
  double seconds = 0;
};
ProcessResult run_process(const std::vector<std::string>& argv, const std::string& workdir, const std::string& log,
                          double timeout_s, const std::vector<std::string>& extra_env = {});

}  // namespace parity::sweep
