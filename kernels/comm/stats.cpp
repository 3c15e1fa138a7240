// CommStats, chunking and the small shared helpers of the communication layer.
#include <stdexcept>

#include "kernels/comm/detail.hpp"
#include "kernels/error.hpp"

namespace parity {

double CommStats::total_seconds() const {
  double s = 0;
  for (const auto& [op, e] : by_op) s += e.seconds;
  return s;
}

double CommStats::total_bytes() const {
  double b = 0;
  for (const auto& [op, e] : by_op) b += e.bytes;
  return b;
}

void CommStats::reset() { by_op.clear(); }

void CommStats::add(const std::string& op, double bytes, double seconds) {
  Entry& e = by_op[op];
  e.calls += 1;
  e.bytes += bytes;
  e.seconds += seconds;
}

std::vector<long> chunk_counts(long n, int p) {
  if (p < 1) throw std::invalid_argument("chunk_counts: p must be >= 1");
  if (n < 0) throw std::invalid_argument("chunk_counts: n must be >= 0");
  std::vector<long> c(p, n / p);
  for (long i = 0; i < n % p; ++i) c[i] += 1;
  return c;
}

namespace comm_detail {

namespace {
long g_max_count = INT_MAX;
long g_segment = kAllreduceSegment;
long g_gather_bytes = kAllreduceGatherBytes;
}

long allreduce_gather_bytes() { return g_gather_bytes; }
void set_allreduce_gather_bytes(long b) { g_gather_bytes = b; }

bool allreduce_gathers(long m, int p) {
  const long bytes = m * long(sizeof(float));
  if (bytes > 2048 && bytes < 8192) return false;
  return long(p) * bytes <= g_gather_bytes && long(p) * m <= max_count();
}

long allreduce_segment() { return g_segment; }

void set_allreduce_segment(long m) {
  if (m < 1) throw std::invalid_argument("set_allreduce_segment: must be >= 1");
  g_segment = m;
}

long max_count() { return g_max_count; }

void set_max_count(long m) {
  if (m < 1 || m > INT_MAX) throw std::invalid_argument("set_max_count: out of range");
  g_max_count = m;
}

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  throw Error(std::string(what) + " failed: " + std::string(msg, len));
}

std::vector<long> displacements(const std::vector<long>& counts) {
  std::vector<long> d(counts.size());
  long off = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    d[i] = off;
    off += counts[i];
  }
  return d;
}

}  // namespace comm_detail
}  // namespace parity
