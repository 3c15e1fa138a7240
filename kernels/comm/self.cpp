// The single-process communicator: every collective is a copy or a no-op, with the same statistics.
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "kernels/comm/detail.hpp"

namespace parity {
namespace {

using comm_detail::now;

class SelfCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }

  void allreduce_sum(float*, long n, Numerics num) override {
    stats_.add(num == Numerics::exact ? "allreduce_sum.exact" : "allreduce_sum.fast", double(n) * sizeof(float), 0);
  }
  void allreduce_max(float* buf, long n) override {
    const double t0 = now();
    for (long i = 0; i < n; ++i)  // the same NaN as the MPI communicator's
      if (std::isnan(buf[i])) buf[i] = std::numeric_limits<float>::quiet_NaN();
    stats_.add("allreduce_max", double(n) * sizeof(float), now() - t0);
  }
  void allreduce_sum(double*, long n) override { stats_.add("allreduce_sum.f64", double(n) * sizeof(double), 0); }
  void reduce_scatter_sum(const float* in, float* out, const std::vector<long>& counts, Numerics num) override {
    const double t0 = now();
    if (counts.size() != 1) throw std::invalid_argument("reduce_scatter_sum: counts must have one entry per rank");
    if (counts[0] > 0 && in != out) std::memmove(out, in, sizeof(float) * counts[0]);
    stats_.add(num == Numerics::exact ? "reduce_scatter_sum.exact" : "reduce_scatter_sum.fast",
               double(counts[0]) * sizeof(float), now() - t0);
  }
  void all_gather(const float* in, float* out, const std::vector<long>& counts) override {
    const double t0 = now();
    if (counts.size() != 1) throw std::invalid_argument("all_gather: counts must have one entry per rank");
    if (counts[0] > 0 && in != out) std::memmove(out, in, sizeof(float) * counts[0]);
    stats_.add("all_gather", double(counts[0]) * sizeof(float), now() - t0);
  }
  void all_to_all(const float* in, float* out, long chunk) override {
    const double t0 = now();
    if (chunk > 0 && in != out) std::memmove(out, in, sizeof(float) * chunk);
    stats_.add("all_to_all", double(chunk) * sizeof(float), now() - t0);
  }
  void broadcast(float*, long n, int root) override {
    if (root != 0) throw std::invalid_argument("broadcast: root out of range");
    stats_.add("broadcast", double(n) * sizeof(float), 0);
  }
  std::unique_ptr<Request> isend(const float*, long, int, int) override {
    throw std::logic_error("self communicator: send to self would never be received");
  }
  void send(const float*, long, int, int) override {
    throw std::logic_error("self communicator: send to self would never be received");
  }
  void recv(float*, long, int, int) override {
    throw std::logic_error("self communicator: recv from self would never complete");
  }
  struct Done final : Request {
    void wait() override {}
    bool test() override { return true; }
  };
  std::unique_ptr<Request> iallreduce_sum(float*, long n, Numerics num) override {
    stats_.add(num == Numerics::exact ? "iallreduce_sum.exact" : "iallreduce_sum.fast", double(n) * sizeof(float), 0);
    return std::make_unique<Done>();
  }
  void barrier() override { stats_.add("barrier", 0, 0); }
};

}  // namespace

std::unique_ptr<Communicator> make_self_communicator() { return std::make_unique<SelfCommunicator>(); }

}  // namespace parity
