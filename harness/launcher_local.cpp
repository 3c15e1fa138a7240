// The local launcher (mpiexec on this machine) and the process helpers every launcher uses: run a command in its own process group with a timeout, read a log's tail.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

#include <mpi.h>

#include "harness/launcher.hpp"
#include "kernels/error.hpp"

extern char** environ;

namespace parity::sweep {

const char* to_string(JobStatus s) {
  switch (s) {
    case JobStatus::ok: return "ok";
    case JobStatus::crashed: return "crashed";
    case JobStatus::timeout: return "timeout";
  }
  return "?";
}

std::string shell_quote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+=./:,@%") ==
                        std::string::npos)
    return s;
  std::string q = "'";
  for (char ch : s) q += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return q + "'";
}

std::string shell_join(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) out += (out.empty() ? "" : " ") + shell_quote(a);
  return out;
}

std::string file_tail(const std::string& path, std::size_t max_lines, std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  const std::streamoff start = size > std::streamoff(max_bytes) ? size - std::streamoff(max_bytes) : 0;
  in.seekg(start);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (start > 0) {  // drop the partial first line
    const auto nl = s.find('\n');
    if (nl != std::string::npos) s.erase(0, nl + 1);
  }
  std::size_t lines = 0, pos = s.size();
  if (pos > 0 && s[pos - 1] == '\n') --pos;
  while (pos > 0) {
    if (s[pos - 1] == '\n' && ++lines == max_lines) break;
    --pos;
  }
  return s.substr(pos);
}

void require_program(const std::string& program, const std::string& what_for) {
  auto executable = [](const std::string& p) { return access(p.c_str(), X_OK) == 0; };
  if (program.find('/') != std::string::npos) {
    if (executable(program)) return;
    throw Error(what_for + ": " + program + " is not an executable file");
  }
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  size_t a = 0;
  while (a <= dirs.size()) {
    const size_t b = std::min(dirs.find(':', a), dirs.size());
    const std::string dir = dirs.substr(a, b - a);
    if (executable((dir.empty() ? "." : dir) + "/" + program)) return;
    a = b + 1;
  }
  throw Error(what_for + ": " + program + " is not in PATH");
}

namespace {

volatile sig_atomic_t g_signal = 0;
volatile pid_t g_child_group = 0;

void on_signal(int sig) {
  g_signal = sig;
  const pid_t g = g_child_group;
  if (g > 0) kill(-g, SIGTERM);
}

}  // namespace

void install_interrupt_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
}

int interrupted() { return g_signal; }

namespace {

// The environment before MPI_Init (cmd_sweep.cpp takes the snapshot while the command line is set up): an
// MPI singleton adds PMIX_* and OMPI_MCA_ess/orte_* variables that would make a child mpiexec believe it
// runs inside this job.
std::vector<std::string>& snapshot() {
  static std::vector<std::string> env;
  return env;
}
bool& snapshot_taken() {
  static bool taken = false;
  return taken;
}

bool singleton_variable(const std::string& kv) {
  for (const char* p : {"PMIX_", "OMPI_MCA_ess=", "OMPI_MCA_orte_", "OMPI_MCA_pmix=", "OMPI_COMMAND=",
                        "OMPI_APP_CTX_", "ORTE_SCHIZO_DETECTION=", "OMPI_COMM_WORLD_", "OMPI_UNIVERSE_SIZE="})
    if (kv.rfind(p, 0) == 0) return true;
  return false;
}

}  // namespace

void snapshot_environment() {
  if (snapshot_taken()) return;
  for (char** e = environ; e && *e; ++e) snapshot().push_back(*e);
  snapshot_taken() = true;
}

std::vector<std::string> child_environment() {
  std::vector<std::string> env;
  if (snapshot_taken()) {
    env = snapshot();
  } else {
    for (char** e = environ; e && *e; ++e)
      if (!singleton_variable(*e)) env.push_back(*e);
  }
  if (geteuid() == 0) {
    auto has = [&](const std::string& k) {
      for (const auto& kv : env)
        if (kv.rfind(k + "=", 0) == 0) return true;
      return false;
    };
    if (!has("OMPI_ALLOW_RUN_AS_ROOT")) env.push_back("OMPI_ALLOW_RUN_AS_ROOT=1");
    if (!has("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM")) env.push_back("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1");
  }
  return env;
}

ProcessResult run_process(const std::vector<std::string>& argv, const std::string& workdir, const std::string& log,
                          double timeout_s, const std::vector<std::string>& extra_env) {
  if (argv.empty()) throw Error("run_process: empty command");
  std::vector<std::string> env = child_environment();
  for (const auto& kv : extra_env) {
    const std::string key = kv.substr(0, kv.find('=') + 1);
    env.erase(std::remove_if(env.begin(), env.end(), [&](const std::string& e) { return e.rfind(key, 0) == 0; }), env.end());
    env.push_back(kv);
  }
  std::vector<char*> cargv, cenv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (const auto& e : env) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);

  const auto t0 = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid < 0) throw Error(std::string("cannot start ") + argv[0] + ": fork failed: " + std::strerror(errno));
  if (pid == 0) {
    // Child: own process group (so that a timeout kills mpiexec and every rank), cwd, log, exec.
    setpgid(0, 0);
    signal(SIGPIPE, SIG_DFL);
    if (!workdir.empty() && chdir(workdir.c_str()) != 0) {
      std::fprintf(stderr, "parity sweep: cannot enter %s: %s\n", workdir.c_str(), std::strerror(errno));
      _exit(126);
    }
    const int in = open("/dev/null", O_RDONLY);
    if (in >= 0) dup2(in, 0);
    if (!log.empty()) {
      const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
      }
    }
    // execvpe: search PATH as the shell would.
    execvpe(cargv[0], cargv.data(), cenv.data());
    std::fprintf(stderr, "parity sweep: cannot run %s: %s\n", cargv[0], std::strerror(errno));
    _exit(127);
  }
  setpgid(pid, pid);  // both sides, so that the group exists before either proceeds
  g_child_group = pid;

  ProcessResult r;
  int status = 0;
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  bool done = false;
  int sleep_ms = 5;
  while (!done) {
    const pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) {
      done = true;
      break;
    }
    if (w < 0 && errno != EINTR) throw Error(std::string("waitpid failed: ") + std::strerror(errno));
    const bool stop = g_signal != 0;
    if (stop || (timeout_s > 0 && elapsed() > timeout_s)) {
      r.timed_out = !stop;
      // mpiexec forwards SIGTERM to its ranks; the whole group gets it, SIGKILL follows after a grace period.
      kill(-pid, SIGTERM);
      const auto grace = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (std::chrono::steady_clock::now() < grace) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
          done = true;
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      kill(-pid, SIGKILL);
      if (!done) waitpid(pid, &status, 0);
      done = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
    sleep_ms = std::min(sleep_ms * 2, 100);
  }
  // Nothing of the run may outlive it (a rank that mpiexec left behind).
  kill(-pid, SIGKILL);
  g_child_group = 0;
  r.seconds = elapsed();
  if (WIFEXITED(status)) {
    r.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    r.signalled = true;
    r.exit_code = 128 + WTERMSIG(status);
  }
  return r;
}

namespace {

int online_cores() {
  const long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

}  // namespace

std::vector<std::string> mpiexec_command(const LauncherOptions& o, const Job& job) {
  std::vector<std::string> a = {o.mpiexec, "-n", std::to_string(job.ranks)};
#ifdef OPEN_MPI
  // Open MPI refuses more ranks than cores unless told; MPICH's Hydra oversubscribes by default.
  if (o.oversubscribe || job.ranks > online_cores()) a.push_back("--oversubscribe");
#endif
  a.insert(a.end(), job.argv.begin(), job.argv.end());
  return a;
}

namespace {

class LocalLauncher : public Launcher {
 public:
  explicit LocalLauncher(const LauncherOptions& o) : o_(o) {
    require_program(o.mpiexec, "the local launcher needs mpiexec (--mpiexec PATH names another)");
  }
  std::string name() const override { return "local"; }
  std::string command(const Job& job) const override { return shell_join(mpiexec_command(o_, job)); }
  JobResult run(const Job& job) override {
    const std::string log = job.workdir + "/run.log";
    JobResult r;
    r.command = command(job);
    {
      std::ofstream l(log, std::ios::app);
      l << "$ " << r.command << "\n";
    }
    const ProcessResult p = run_process(mpiexec_command(o_, job), job.workdir, log, job.timeout_s);
    r.seconds = p.seconds;
    r.exit_code = p.timed_out ? -1 : p.exit_code;
    r.status = p.timed_out ? JobStatus::timeout : (p.exit_code == 0 && !p.signalled ? JobStatus::ok : JobStatus::crashed);
    if (p.timed_out) {
      std::ofstream l(log, std::ios::app);
      l << "parity sweep: killed after the timeout of " << job.timeout_s << " s\n";
    }
    r.output_tail = file_tail(log);
    return r;
  }

 private:
  LauncherOptions o_;
};

}  // namespace

std::unique_ptr<Launcher> make_local_launcher(const LauncherOptions& o) { return std::make_unique<LocalLauncher>(o); }

std::unique_ptr<Launcher> make_launcher(const std::string& name, const LauncherOptions& o) {
  if (name == "local") return make_local_launcher(o);
  if (name == "slurm") return make_slurm_launcher(o);
  if (name == "print") return make_print_launcher(o);
  throw Error("unknown launcher '" + name + "' (known: local, slurm, print)");
}

}  // namespace parity::sweep
