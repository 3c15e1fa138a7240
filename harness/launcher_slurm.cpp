// The Slurm launcher: one sbatch job per run from an editable template (harness/slurm-job.sh.in), srun
// inside the allocation; the job is polled with scontrol (sacct once the controller has forgotten it) and
// cancelled with scancel when it runs past the sweep's --timeout.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "harness/launcher.hpp"
#include "kernels/error.hpp"

namespace parity::sweep {
namespace {

std::string seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", s);
  return buf;
}

bool readable(const std::string& p) { return access(p.c_str(), R_OK) == 0; }

std::string dirname_of(const std::string& p) {
  const auto slash = p.rfind('/');
  return slash == std::string::npos ? "." : p.substr(0, slash);
}

// --slurm-template, else $PARITY_SLURM_TEMPLATE, else the template shipped next to this source file, else
// next to the binary's source tree.
std::string find_template(const std::string& given) {
  if (!given.empty()) {
    if (!readable(given)) throw Error("Slurm job template " + given + " (--slurm-template) cannot be read");
    return given;
  }
  std::vector<std::string> tried;
  if (const char* e = std::getenv("PARITY_SLURM_TEMPLATE")) tried.push_back(e);
  tried.push_back(dirname_of(__FILE__) + "/slurm-job.sh.in");
  char exe[4096];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    const std::string dir = dirname_of(std::string(exe, n));
    tried.push_back(dir + "/../harness/slurm-job.sh.in");
    tried.push_back(dir + "/../share/parity/slurm-job.sh.in");
  }
  std::string list;
  for (const auto& p : tried) {
    if (readable(p)) return p;
    list += (list.empty() ? "" : ", ") + p;
  }
  throw Error("cannot find the Slurm job template (tried " + list + "); give one with --slurm-template FILE");
}

std::string read_file(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Replaces {{key}}; an unknown placeholder is an error naming it and the template.
std::string fill(const std::string& tmpl, const std::string& path, const std::vector<std::pair<std::string, std::string>>& vars) {
  std::string out;
  size_t pos = 0;
  while (true) {
    const size_t a = tmpl.find("{{", pos);
    if (a == std::string::npos) {
      out += tmpl.substr(pos);
      break;
    }
    const size_t b = tmpl.find("}}", a);
    if (b == std::string::npos) throw Error("Slurm job template " + path + ": '{{' without '}}'");
    out += tmpl.substr(pos, a - pos);
    const std::string key = tmpl.substr(a + 2, b - a - 2);
    bool found = false;
    for (const auto& [k, v] : vars)
      if (k == key) {
        out += v;
        found = true;
      }
    if (!found) {
      std::string known;
      for (const auto& kv : vars) known += (known.empty() ? "" : ", ") + kv.first;
      throw Error("Slurm job template " + path + ": unknown placeholder {{" + key + "}} (known: " + known + ")");
    }
    pos = b + 2;
  }
  return out;
}

// Runs a short Slurm client command and returns its output (stdout and stderr); rc in `rc`.
std::string capture(const std::vector<std::string>& argv, const std::string& dir, int& rc,
                    const std::vector<std::string>& extra_env = {}) {
  const std::string out = dir + "/.slurm-client." + std::to_string(getpid()) + ".out";
  std::remove(out.c_str());
  const ProcessResult p = run_process(argv, dir, out, 60, extra_env);
  rc = p.timed_out ? -1 : p.exit_code;
  std::string s = read_file(out);
  std::remove(out.c_str());
  return s;
}

std::string field(const std::string& line, const std::string& key) {
  const std::string k = key + "=";
  size_t pos = 0;
  while ((pos = line.find(k, pos)) != std::string::npos) {
    if (pos == 0 || line[pos - 1] == ' ' || line[pos - 1] == '\n') {
      const size_t end = line.find_first_of(" \n", pos);
      return line.substr(pos + k.size(), end == std::string::npos ? std::string::npos : end - pos - k.size());
    }
    ++pos;
  }
  return "";
}

bool finished_state(const std::string& s) {
  for (const char* f : {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL",
                        "DEADLINE", "PREEMPTED", "REVOKED", "SPECIAL_EXIT"})
    if (s.rfind(f, 0) == 0) return true;
  return false;
}

class SlurmLauncher : public Launcher {
 public:
  explicit SlurmLauncher(const LauncherOptions& o) : o_(o), template_path_(find_template(o.slurm_template)) {
    for (const char* tool : {"sbatch", "scontrol", "scancel"})
      require_program(tool, "the Slurm launcher needs the Slurm client commands (slurm-client)");
    // A controller that does not answer fails the sweep now, not every run one by one.
    int rc = 0;
    const std::string ping = capture({"scontrol", "ping"}, std::filesystem::temp_directory_path().string(), rc);
    if (rc != 0 || ping.find("UP") == std::string::npos)
      throw Error("the Slurm controller does not answer (scontrol ping: " + ping.substr(0, ping.find_last_not_of("\n") + 1) + ")");
    template_ = read_file(template_path_);
    Job probe;  // a bad placeholder is found now, not at the first run
    probe.id = "probe";
    probe.argv = {"parity"};
    probe.workdir = "/tmp";
    script(probe);
  }
  std::string name() const override { return "slurm"; }

  std::string script(const Job& job) const {
    std::string sbatch_options, srun_options;
    if (job.timeout_s > 0) {
      // Slurm's own limit, a minute above the sweep's (which cancels the job itself, to the second).
      sbatch_options += "#SBATCH --time=" + std::to_string(static_cast<long>(std::ceil(job.timeout_s / 60.0)) + 1) + "\n";
    }
    if (o_.oversubscribe) {
      sbatch_options += "#SBATCH --overcommit\n";
      srun_options = "--overcommit";
    }
    return fill(template_, template_path_,
                {{"job_name", "parity-" + job.id},
                 {"ranks", std::to_string(job.ranks)},
                 {"workdir", job.workdir},
                 {"log", job.workdir + "/run.log"},
                 {"sbatch_options", sbatch_options},
                 {"srun_options", srun_options},
                 {"command", shell_join(job.argv)}});
  }

  std::string command(const Job& job) const override { return "sbatch --parsable " + shell_quote(job.workdir + "/job.sh"); }

  JobResult run(const Job& job) override {
    JobResult r;
    r.command = command(job);
    const std::string path = job.workdir + "/job.sh";
    {
      std::ofstream f(path);
      f << script(job);
      if (!f) throw Error("cannot write " + path);
    }
    const auto t0 = std::chrono::steady_clock::now();
    auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
    int rc = 0;
    // The job inherits the submitting environment (sbatch --export=ALL, the default). Oversubscribed, Open MPI
    // must yield the CPU while it waits (mpiexec does so by itself, srun cannot know).
    std::vector<std::string> env;
    if (o_.oversubscribe) env.push_back("OMPI_MCA_mpi_yield_when_idle=1");
    const std::string submitted = capture({"sbatch", "--parsable", path}, job.workdir, rc, env);
    std::string id = submitted.substr(0, submitted.find_first_of(";\n"));
    if (rc != 0 || id.empty() || id.find_first_not_of("0123456789") != std::string::npos) {
      r.status = JobStatus::crashed;
      r.exit_code = rc;
      r.output_tail = "sbatch failed (exit " + std::to_string(rc) + "): " + submitted;
      r.seconds = elapsed();
      return r;
    }
    r.command += "  # job " + id;

    std::string state, exit_code;
    double poll = std::min(0.25, o_.poll_seconds);
    double started = -1;  // the timeout counts from the job's start, not from its time in the queue
    bool cancelled = false;
    int unknown = 0;
    while (true) {
      const std::string info = capture({"scontrol", "show", "job", "-o", id}, job.workdir, rc);
      if (rc == 0 && !field(info, "JobState").empty()) {
        state = field(info, "JobState");
        exit_code = field(info, "ExitCode");
      } else {
        // The controller forgets finished jobs after MinJobAge: ask the accounting database.
        const std::string acct = capture({"sacct", "-n", "-X", "-P", "-j", id, "-o", "State,ExitCode"}, job.workdir, rc);
        const auto bar = acct.find('|');
        if (rc == 0 && bar != std::string::npos) {
          state = acct.substr(0, acct.find(' ') < bar ? acct.find(' ') : bar);
          exit_code = acct.substr(bar + 1, acct.find('\n') - bar - 1);
        } else if (++unknown >= 5) {
          state = "UNKNOWN";
          break;
        }
      }
      if (finished_state(state)) break;
      if (started < 0 && (state == "RUNNING" || state == "COMPLETING")) started = elapsed();
      if (interrupted()) {  // the sweep is stopping: so does its job
        int ignore = 0;
        capture({"scancel", id}, job.workdir, ignore);
        state = "CANCELLED";
        break;
      }
      if (!cancelled && job.timeout_s > 0 && started >= 0 && elapsed() - started > job.timeout_s) {
        int ignore = 0;
        capture({"scancel", id}, job.workdir, ignore);
        cancelled = true;
      }
      std::this_thread::sleep_for(std::chrono::duration<double>(poll));
      poll = std::min(poll * 2, o_.poll_seconds);
    }
    r.seconds = started >= 0 ? elapsed() - started : elapsed();
    // ExitCode=E:S (exit status : signal)
    const auto colon = exit_code.find(':');
    const int code = exit_code.empty() ? -1 : std::atoi(exit_code.substr(0, colon).c_str());
    const int sig = colon == std::string::npos ? 0 : std::atoi(exit_code.substr(colon + 1).c_str());
    r.exit_code = sig ? 128 + sig : code;
    if (cancelled || state.rfind("TIMEOUT", 0) == 0) {
      r.status = JobStatus::timeout;
      r.exit_code = -1;
    } else if (state.rfind("COMPLETED", 0) == 0 && code == 0 && sig == 0) {
      r.status = JobStatus::ok;
    } else {
      r.status = JobStatus::crashed;
    }
    // The log is written on the compute node; give a shared file system a moment to show its end.
    const std::string log = job.workdir + "/run.log";
    for (int i = 0; i < 20 && !readable(log); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    {
      std::ofstream l(log, std::ios::app);
      l << "parity sweep: Slurm job " << id << " ended in state " << state << ", exit code " << exit_code
        << (cancelled ? ", cancelled after the sweep's timeout of " + seconds(job.timeout_s) + " s" : "") << "\n";
    }
    r.output_tail = file_tail(log);
    return r;
  }

 private:
  LauncherOptions o_;
  std::string template_path_, template_;
};

}  // namespace

std::unique_ptr<Launcher> make_slurm_launcher(const LauncherOptions& o) { return std::make_unique<SlurmLauncher>(o); }

}  // namespace parity::sweep
