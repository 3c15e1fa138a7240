// MpiCommunicator: construction, scratch management, barrier, and the factories.
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "kernels/comm/detail.hpp"

namespace parity {
namespace comm_detail {

namespace {

// Maximum that gives the same bits in any order: NaN wins (as the canonical quiet NaN), +0 beats -0.
inline float order_free_max(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<float>::quiet_NaN();
  if (a > b) return a;
  if (b > a) return b;
  return std::signbit(a) ? b : a;
}

void max_op(void* in, void* inout, int* len, MPI_Datatype*) {
  const float* a = static_cast<const float*>(in);
  float* b = static_cast<float*>(inout);
  for (int i = 0; i < *len; ++i) b[i] = order_free_max(a[i], b[i]);
}

MPI_Comm dup(MPI_Comm comm) {
  MPI_Comm d = MPI_COMM_NULL;
  check(MPI_Comm_dup(comm, &d), "MPI_Comm_dup");
  MPI_Comm_set_errhandler(d, MPI_ERRORS_RETURN);
  return d;
}

}  // namespace

MpiCommunicator::MpiCommunicator(MPI_Comm comm) {
  int init = 0;
  MPI_Initialized(&init);
  if (!init) throw std::runtime_error("make_mpi_communicator: MPI is not initialised");
  comm_ = dup(comm);
  comm_p2p_ = dup(comm);
  comm_start_ = dup(comm);
  comm_gather_ = dup(comm);
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
  check(MPI_Op_create(&max_op, /*commute=*/1, &max_op_), "MPI_Op_create");
}

MpiCommunicator::~MpiCommunicator() {
  int fin = 0;
  MPI_Finalized(&fin);
  if (fin) return;
  if (max_op_ != MPI_OP_NULL) MPI_Op_free(&max_op_);
  for (MPI_Comm* c : {&comm_, &comm_p2p_, &comm_start_, &comm_gather_})
    if (*c != MPI_COMM_NULL) MPI_Comm_free(c);
}

std::vector<float> MpiCommunicator::take_buffer(long n) {
  // The smallest pooled buffer that is large enough, else the largest one grown.
  int fit = -1, largest = -1;
  for (int i = 0; i < int(pool_.size()); ++i) {
    const long cap = long(pool_[i].size());
    if (cap >= n && (fit < 0 || cap < long(pool_[fit].size()))) fit = i;
    if (largest < 0 || cap > long(pool_[largest].size())) largest = i;
  }
  const int best = fit >= 0 ? fit : largest;
  std::vector<float> b;
  if (best >= 0) {
    b.swap(pool_[best]);
    pool_.erase(pool_.begin() + best);
  }
  if (long(b.size()) < n) b.resize(n);
  return b;
}

void MpiCommunicator::give_buffer(std::vector<float>&& b) {
  if (!b.empty()) pool_.push_back(std::move(b));
}

void MpiCommunicator::barrier() {
  const double t0 = now();
  check(MPI_Barrier(comm_), "MPI_Barrier");
  stats_.add("barrier", 0, now() - t0);
}

void MpiCommunicator::allreduce_max(float* buf, long n) {
  const double t0 = now();
  for (long i = 0; i < n; ++i)  // so that one rank, or a NaN on one rank only, gives the same bits
    if (std::isnan(buf[i])) buf[i] = std::numeric_limits<float>::quiet_NaN();
  const long m = max_count();
  for (long off = 0; off < n; off += m)
    check(MPI_Allreduce(MPI_IN_PLACE, buf + off, int(std::min(m, n - off)), MPI_FLOAT, max_op_, comm_),
          "MPI_Allreduce(max)");
  stats_.add("allreduce_max", double(n) * sizeof(float), now() - t0);
}

}  // namespace comm_detail

std::unique_ptr<Communicator> make_mpi_communicator(MPI_Comm comm) {
  return std::make_unique<comm_detail::MpiCommunicator>(comm);
}

}  // namespace parity
