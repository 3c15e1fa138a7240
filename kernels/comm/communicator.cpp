// The public Communicator calls: argument checks, timing and statistics in one place, around the
// implementations' do_* methods (MPI, self, NCCL). Also the requests' wait() and test().
#include "kernels/comm/communicator.hpp"

#include <cstdint>
#include <numeric>
#include <string>

#include "kernels/comm/detail.hpp"
#include "kernels/error.hpp"

namespace parity {

namespace {

using comm_detail::now;

[[noreturn]] void bad(const char* op, const std::string& what) { throw Error(std::string(op) + ": " + what); }

void check_count(const char* op, long n, const void* buf, const char* what = "count") {
  if (n < 0) bad(op, std::string("negative ") + what + " " + std::to_string(n));
  if (n > 0 && !buf) bad(op, "null buffer for " + std::to_string(n) + " elements");
}

// A peer (destination, source, root) must be a rank of the group; point-to-point peers not this rank,
// since a send to self is never received by a blocking recv on the same thread.
void check_peer(const char* op, const char* what, int peer, int rank, int size, bool self_ok) {
  if (peer < 0 || peer >= size)
    bad(op, std::string(what) + " " + std::to_string(peer) + " is not a rank of this group of " +
                std::to_string(size) + " ranks");
  if (!self_ok && peer == rank)
    bad(op, std::string(what) + " " + std::to_string(peer) + " is this rank: it would wait for itself forever");
}

void check_tag(const char* op, int tag, int max_tag) {
  if (tag < 0 || tag > max_tag)
    bad(op, "tag " + std::to_string(tag) + " outside [0, " + std::to_string(max_tag) + "]");
}

// One non-negative count per rank; returns their sum.
long check_counts(const char* op, const std::vector<long>& counts, int size) {
  if (long(counts.size()) != size)
    bad(op, "counts has " + std::to_string(counts.size()) + " entries, expected one per rank (" +
                std::to_string(size) + ")");
  for (size_t j = 0; j < counts.size(); ++j)
    if (counts[j] < 0) bad(op, "negative count " + std::to_string(counts[j]) + " for rank " + std::to_string(j));
  return std::accumulate(counts.begin(), counts.end(), 0L);
}

// Buffers [a, a + na) and [b, b + nb) of floats must not share an element.
void check_disjoint(const char* op, const float* a, long na, const float* b, long nb) {
  if (na <= 0 || nb <= 0) return;
  const auto lo_a = reinterpret_cast<std::uintptr_t>(a), lo_b = reinterpret_cast<std::uintptr_t>(b);
  const auto hi_a = lo_a + sizeof(float) * na, hi_b = lo_b + sizeof(float) * nb;
  if (lo_a < hi_b && lo_b < hi_a) bad(op, "the input and output buffers overlap");
}

const char* sum_op(const char* exact, const char* fast, Numerics num) {
  return num == Numerics::exact ? exact : fast;
}

}  // namespace

// One public call: refuses to start on an unusable communicator, names the call for the implementation's
// error messages, and adds it to the statistics when it returns normally.
class Communicator::Call {
 public:
  Call(Communicator& c, const char* op, double bytes) : c_(c), op_(op), bytes_(bytes) {
    if (c.unusable()) bad(op, "this communicator is unusable after an earlier error: " + c.unusable_);
    c.op_ = op;
    t0_ = now();
  }
  void done() { c_.stats_.add(op_, bytes_, now() - t0_); }
  // Hands a request the statistics entry its wait() and test() add to.
  std::unique_ptr<Request> done(std::unique_ptr<Request> req) {
    req->stats_ = &c_.stats_;
    req->op_ = op_;
    done();
    return req;
  }

 private:
  Communicator& c_;
  const char* op_;
  double bytes_, t0_ = 0;
};

void Communicator::allreduce_sum(float* buf, long n, Numerics num) {
  const char* op = sum_op("allreduce_sum.exact", "allreduce_sum.fast", num);
  check_count(op, n, buf);
  Call call(*this, op, double(n) * sizeof(float));
  do_allreduce_sum(buf, n, num);
  call.done();
}

void Communicator::allreduce_max(float* buf, long n) {
  check_count("allreduce_max", n, buf);
  Call call(*this, "allreduce_max", double(n) * sizeof(float));
  do_allreduce_max(buf, n);
  call.done();
}

void Communicator::allreduce_sum(double* buf, long n) {
  check_count("allreduce_sum.f64", n, buf);
  Call call(*this, "allreduce_sum.f64", double(n) * sizeof(double));
  do_allreduce_sum(buf, n);
  call.done();
}

void Communicator::reduce_scatter_sum(const float* in, float* out, const std::vector<long>& counts,
                                      Numerics num) {
  const char* op = sum_op("reduce_scatter_sum.exact", "reduce_scatter_sum.fast", num);
  const long n = check_counts(op, counts, size_);
  check_count(op, n, in, "input size");
  check_count(op, counts[rank_], out, "output size");
  check_disjoint(op, in, n, out, counts[rank_]);
  Call call(*this, op, double(n) * sizeof(float));
  do_reduce_scatter_sum(in, out, counts, num);
  call.done();
}

void Communicator::all_gather(const float* in, float* out, const std::vector<long>& counts) {
  const long n = check_counts("all_gather", counts, size_);
  const long mine = counts[rank_], offset = std::accumulate(counts.begin(), counts.begin() + rank_, 0L);
  check_count("all_gather", mine, in, "input size");
  check_count("all_gather", n, out, "output size");
  if (in != out + offset) check_disjoint("all_gather", in, mine, out, n);  // else in place
  Call call(*this, "all_gather", double(n) * sizeof(float));
  do_all_gather(in, out, counts);
  call.done();
}

void Communicator::all_to_all(const float* in, float* out, long chunk) {
  check_count("all_to_all", chunk, in, "chunk");
  check_count("all_to_all", chunk, out, "chunk");
  check_disjoint("all_to_all", in, chunk * size_, out, chunk * size_);
  Call call(*this, "all_to_all", double(chunk) * size_ * sizeof(float));
  do_all_to_all(in, out, chunk);
  call.done();
}

void Communicator::broadcast(float* buf, long n, int root) {
  check_count("broadcast", n, buf);
  check_peer("broadcast", "root", root, rank_, size_, /*self_ok=*/true);
  Call call(*this, "broadcast", double(n) * sizeof(float));
  do_broadcast(buf, n, root);
  call.done();
}

void Communicator::send(const float* buf, long n, int dest, int tag) {
  check_count("send", n, buf);
  check_peer("send", "destination", dest, rank_, size_, false);
  check_tag("send", tag, max_tag_);
  Call call(*this, "send", double(n) * sizeof(float));
  do_send(buf, n, dest, tag);
  call.done();
}

void Communicator::recv(float* buf, long n, int src, int tag) {
  check_count("recv", n, buf);
  check_peer("recv", "source", src, rank_, size_, false);
  check_tag("recv", tag, max_tag_);
  Call call(*this, "recv", double(n) * sizeof(float));
  do_recv(buf, n, src, tag);
  call.done();
}

std::unique_ptr<Communicator::Request> Communicator::iallreduce_sum(float* buf, long n, Numerics num) {
  const char* op = sum_op("iallreduce_sum.exact", "iallreduce_sum.fast", num);
  check_count(op, n, buf);
  Call call(*this, op, double(n) * sizeof(float));
  return call.done(do_iallreduce_sum(buf, n, num));
}

std::unique_ptr<Communicator::Request> Communicator::isend(const float* buf, long n, int dest, int tag) {
  check_count("isend", n, buf);
  check_peer("isend", "destination", dest, rank_, size_, false);
  check_tag("isend", tag, max_tag_);
  Call call(*this, "isend", double(n) * sizeof(float));
  return call.done(do_isend(buf, n, dest, tag));
}

void Communicator::barrier() {
  Call call(*this, "barrier", 0);
  do_barrier();
  call.done();
}

void Communicator::Request::wait() {
  if (done_) return;
  const double t0 = now();
  do_wait();
  done_ = true;
  if (stats_) stats_->by_op[op_].seconds += now() - t0;
}

bool Communicator::Request::test() {
  if (done_) return true;
  const double t0 = now();
  done_ = do_test();
  if (stats_) stats_->by_op[op_].seconds += now() - t0;
  return done_;
}

}  // namespace parity
