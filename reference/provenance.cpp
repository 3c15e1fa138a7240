#include "reference/provenance.hpp"

#include <mpi.h>
#include <unistd.h>

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>

#include "reference/h5io.hpp"

namespace parity {
namespace {

// The widest fp32 vector unit of this CPU: its name, lanes, flops per lane and cycle (2 with fused
// multiply-add, or with separate add and multiply ports), and units per core (assumed, not detectable).
struct VectorUnit {
  const char* name = nullptr;
  int lanes = 0;
  const char* per_lane = "";  // the 2 flops per lane and cycle
  int units = 1;              // FMA units per core, assumed
};

// Whether /proc/cpuinfo lists `flag` for the first CPU: the fallback where the compiler's CPU detection is
// not available (nvcc compiles this file in the CUDA build and does not know __builtin_cpu_supports).
bool cpuinfo_flag(const std::string& flag) {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("flags", 0) != 0 && line.rfind("Features", 0) != 0) continue;
    std::stringstream ss(line.substr(line.find(':') == std::string::npos ? 0 : line.find(':') + 1));
    for (std::string f; ss >> f;)
      if (f == flag) return true;
    return false;
  }
  return false;
}

bool cpu_has(const char* flag) {
#if (defined(__x86_64__) || defined(__i386__)) && !defined(__CUDACC__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (std::string(flag) == "avx512f") return __builtin_cpu_supports("avx512f");
  if (std::string(flag) == "avx2") return __builtin_cpu_supports("avx2");
  if (std::string(flag) == "fma") return __builtin_cpu_supports("fma");
  if (std::string(flag) == "avx") return __builtin_cpu_supports("avx");
#endif
  return cpuinfo_flag(flag);
}

VectorUnit vector_unit() {
#if defined(__x86_64__) || defined(__i386__)
  if (cpu_has("avx512f")) return {"AVX-512", 16, "2 flops per FMA", 2};
  if (cpu_has("avx2") && cpu_has("fma")) return {"AVX2+FMA", 8, "2 flops per FMA", 2};
  if (cpu_has("avx")) return {"AVX", 8, "2 flops (an add and a multiply a cycle)", 1};
  return {"SSE2", 4, "2 flops (an add and a multiply a cycle)", 1};
#elif defined(__aarch64__)
  return {"NEON", 4, "2 flops per FMA", 2};
#else
  return {};
#endif
}

// The clock in GHz and where it came from; 0 when neither file gives one.
double cpu_ghz(std::string& from) {
  std::ifstream sys("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq");
  double khz = 0;
  if (sys >> khz && khz > 0) {
    from = "cpuinfo_max_freq of cpu0 in sysfs";
    return khz / 1e6;
  }
  std::ifstream in("/proc/cpuinfo");
  double mhz = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("cpu MHz", 0) != 0 || line.find(':') == std::string::npos) continue;
    mhz = std::max(mhz, std::atof(line.c_str() + line.find(':') + 1));
  }
  from = "the highest cpu MHz in /proc/cpuinfo";
  return mhz / 1e3;
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

}  // namespace

void estimate_cpu_peak(int threads, double& gflops, std::string& source) {
  threads = std::max(threads, 1);
  const VectorUnit u = vector_unit();
  std::string from;
  const double ghz = cpu_ghz(from);
  gflops = 0;
  if (!u.name) {
    source = "unknown: no fp32 vector unit this build knows how to count";
    return;
  }
  if (!(ghz > 0)) {
    source = std::string("unknown: ") + u.name + ", but no CPU clock in sysfs or /proc/cpuinfo";
    return;
  }
  gflops = ghz * u.lanes * 2 * u.units * threads;
  source = std::string("estimated, not measured: ") + u.name + ", " + fmt("%.2f", ghz) + " GHz (" + from + ") x " +
           std::to_string(u.lanes) + " fp32 lanes x " + u.per_lane +
           (u.units > 1 ? " x " + std::to_string(u.units) + " FMA units per core (assumed)" : std::string()) + " x " +
           std::to_string(threads) + (threads == 1 ? " thread" : " threads") + " per rank";
}

Provenance collect_provenance(int threads_per_rank) {
  Provenance p;
  p.git_revision = PARITY_GIT_REV;
  p.compiler = PARITY_COMPILER;
  p.kokkos_backend = Kokkos::DefaultExecutionSpace::name();
  char lib[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(lib, &len);  // allowed before MPI_Init
  p.mpi_library = std::string(lib, len);
  if (const auto nl = p.mpi_library.find_first_of(",\n"); nl != std::string::npos) p.mpi_library.resize(nl);
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  p.hosts = host;
  char date[64];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  p.date = date;
  estimate_cpu_peak(threads_per_rank, p.peak_gflops_per_rank, p.peak_source);
  return p;
}

void write_provenance(H5Writer& w, const std::string& g, const Provenance& p) {
  w.attr(g, "git_revision", p.git_revision);
  w.attr(g, "compiler", p.compiler);
  w.attr(g, "kokkos_backend", p.kokkos_backend);
  w.attr(g, "mpi_library", p.mpi_library);
  w.attr(g, "hosts", p.hosts);
  w.attr(g, "date", p.date);
  w.attr(g, "peak_gflops", p.peak_gflops_per_rank);
  w.attr(g, "peak_source", p.peak_source);
}

}  // namespace parity
