// The single-process communicator: every collective is a copy or a no-op. The checks and statistics are
// the public calls' (communicator.cpp); they refuse send and recv, whose only peer would be this rank.
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/comm/detail.hpp"
#include "kernels/error.hpp"

namespace parity {
namespace {

void copy(const float* in, float* out, long n) {
  if (n > 0 && in != out) std::memmove(out, in, sizeof(float) * n);
}

class SelfCommunicator final : public Communicator {
 protected:
  void do_allreduce_sum(float*, long, Numerics) override {}
  void do_allreduce_max(float* buf, long n) override {
    for (long i = 0; i < n; ++i)  // the same NaN as the MPI communicator's
      if (std::isnan(buf[i])) buf[i] = std::numeric_limits<float>::quiet_NaN();
  }
  void do_allreduce_sum(double*, long) override {}
  void do_reduce_scatter_sum(const float* in, float* out, const std::vector<long>& counts, Numerics) override {
    copy(in, out, counts[0]);
  }
  void do_all_gather(const float* in, float* out, const std::vector<long>& counts) override {
    copy(in, out, counts[0]);
  }
  void do_all_to_all(const float* in, float* out, long chunk) override { copy(in, out, chunk); }
  void do_broadcast(float*, long, int) override {}
  // Unreachable: the public calls refuse a peer that is this rank, the only one there is.
  void do_send(const float*, long, int, int) override { throw Error("self communicator: no peer to send to"); }
  void do_recv(float*, long, int, int) override { throw Error("self communicator: no peer to receive from"); }
  std::unique_ptr<Request> do_isend(const float*, long, int, int) override {
    throw Error("self communicator: no peer to send to");
  }
  struct Done final : Request {
    void do_wait() override {}
    bool do_test() override { return true; }
  };
  std::unique_ptr<Request> do_iallreduce_sum(float*, long, Numerics) override { return std::make_unique<Done>(); }
  void do_barrier() override {}
};

}  // namespace

std::unique_ptr<Communicator> make_self_communicator() { return std::make_unique<SelfCommunicator>(); }

}  // namespace parity
