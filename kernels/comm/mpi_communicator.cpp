// MpiCommunicator: construction, scratch management, barrier, maximum, and the factory.
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "kernels/comm/detail.hpp"
#include "kernels/error.hpp"

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

// The world rank of every rank of comm.
std::vector<int> world_ranks(MPI_Comm comm, int size) {
  MPI_Group g, w;
  MPI_Comm_group(comm, &g);
  MPI_Comm_group(MPI_COMM_WORLD, &w);
  std::vector<int> ranks(size), out(size);
  for (int j = 0; j < size; ++j) ranks[j] = j;
  MPI_Group_translate_ranks(g, size, ranks.data(), w, out.data());
  MPI_Group_free(&g);
  MPI_Group_free(&w);
  return out;
}

// The name for messages: the caller's, else the one comm carries (set by MPI_Comm_set_name; the world's
// is "MPI_COMM_WORLD"; split and duplicated communicators have none).
std::string group_name(MPI_Comm comm, const std::string& name) {
  if (!name.empty()) return name;
  char buf[MPI_MAX_OBJECT_NAME] = {};
  int len = 0;
  MPI_Comm_get_name(comm, buf, &len);
  return std::string(buf, len);
}

}  // namespace

MpiCommunicator::MpiCommunicator(MPI_Comm comm, const std::string& name) {
  int init = 0;
  MPI_Initialized(&init);
  if (!init) throw Error("make_mpi_communicator: MPI is not initialised");
  comm_ = dup(comm);
  comm_p2p_ = dup(comm);
  comm_start_ = dup(comm);
  comm_gather_ = dup(comm);
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
  name_ = group_name(comm, name);
  world_ = world_ranks(comm_, size_);
  int* tag_ub = nullptr;
  int found = 0;
  MPI_Comm_get_attr(comm_, MPI_TAG_UB, &tag_ub, &found);
  if (found && tag_ub) max_tag_ = *tag_ub;
  check(MPI_Op_create(&max_op, /*commute=*/1, &max_op_), "MPI_Op_create");
}

MpiCommunicator::~MpiCommunicator() {
  int fin = 0;
  MPI_Finalized(&fin);
  if (fin) return;
  // Requests abandoned by a timeout may still complete (a late peer); those that have are freed here. If
  // any has not, MPI may still write into this communicator's buffers: they are left allocated (the
  // process is about to abort; see communicator.hpp).
  bool in_flight = false;
  for (MPI_Request& r : abandoned_) {
    int done = 0;
    if (r != MPI_REQUEST_NULL && MPI_Test(&r, &done, MPI_STATUS_IGNORE) == MPI_SUCCESS && !done) in_flight = true;
  }
  if (in_flight) {
    auto* keep = new std::vector<std::vector<float>>(std::move(orphans_));  // deliberately never freed
    keep->push_back(std::move(scratch_));
    for (auto& b : pool_) keep->push_back(std::move(b));
  }
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

void MpiCommunicator::do_barrier() {
  MPI_Request req;
  check(MPI_Ibarrier(comm_, &req), "MPI_Ibarrier");
  wait_all(&req, 1, {"MPI_Ibarrier"});
}

void MpiCommunicator::do_allreduce_max(float* buf, long n) {
  for (long i = 0; i < n; ++i)  // so that one rank, or a NaN on one rank only, gives the same bits
    if (std::isnan(buf[i])) buf[i] = std::numeric_limits<float>::quiet_NaN();
  const long m = max_count();
  for (long off = 0; off < n; off += m) {
    MPI_Request req;
    check(MPI_Iallreduce(MPI_IN_PLACE, buf + off, int(std::min(m, n - off)), MPI_FLOAT, max_op_, comm_, &req),
          "MPI_Iallreduce(max)");
    wait_all(&req, 1, {"MPI_Iallreduce(max)"});
  }
}

}  // namespace comm_detail

std::unique_ptr<Communicator> make_mpi_communicator(MPI_Comm comm, const std::string& name) {
  return std::make_unique<comm_detail::MpiCommunicator>(comm, name);
}

}  // namespace parity
