// The timed waits of the MPI communicator: every blocking wait polls against comm_timeout(), so that a rank
// that falls out of step (skips a collective the others run, or stops) ends the run with a message naming
// who waited for whom, instead of a hang.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <thread>

#include "kernels/comm/detail.hpp"
#include "kernels/error.hpp"

namespace parity {

namespace {
double g_timeout = 600;  // seconds; long enough for any healthy step, short enough to free a batch job
}

void set_comm_timeout(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0)
    throw Error("the communication timeout must be a finite number of seconds >= 0 (0: none), got " +
                std::to_string(seconds));
  g_timeout = seconds;
}

double comm_timeout() { return g_timeout; }

namespace comm_detail {

namespace {

// Between two polls. A young wait spins, since its answer is usually microseconds away; then the core is
// yielded (ranks oversubscribed on few cores need it to make progress at all); a wait past 2 ms naps 1/64 of
// the time waited so far, at most 0.5 ms, so that long waits (pipeline bubbles, a slow peer) leave the core
// idle at the cost of at most ~1.6 % more latency.
void pause(double waited) {
  if (waited < 1e-4) return;
  if (waited < 2e-3) {
    std::this_thread::yield();
    return;
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(std::min(waited / 64, 5e-4)));
}

}  // namespace

bool poll_all(MPI_Request* reqs, int n, MPI_Status* statuses, double limit, const char* call) {
  const double t0 = now();
  for (;;) {
    int flag = 0;
    check(MPI_Testall(n, reqs, &flag, statuses), call);
    if (flag) return true;
    const double waited = now() - t0;
    if (waited >= limit) return false;
    pause(waited);
  }
}

void MpiCommunicator::wait_all(MPI_Request* reqs, int n, const WaitFor& w, MPI_Status* statuses) {
  if (n <= 0) return;
  const double limit = comm_timeout();
  if (limit <= 0) {
    check(MPI_Waitall(n, reqs, statuses), w.call);
    return;
  }
  if (poll_all(reqs, n, statuses, limit, w.call)) return;
  // Out of step: the requests stay with MPI (their buffers are the caller's or this communicator's, which
  // lives on), and nothing more may run on this communicator.
  abandoned_.insert(abandoned_.end(), reqs, reqs + n);
  std::fill(reqs, reqs + n, MPI_REQUEST_NULL);
  const std::string msg = describe(w, limit);
  set_unusable(msg);
  throw Error(msg);
}

void MpiCommunicator::abandon(MPI_Request* reqs, int n, std::vector<float>&& buf, const char* op) {
  abandoned_.insert(abandoned_.end(), reqs, reqs + n);
  std::fill(reqs, reqs + n, MPI_REQUEST_NULL);
  if (!buf.empty()) orphans_.push_back(std::move(buf));
  if (!unusable()) set_unusable(std::string("a request of ") + op + " was abandoned before it completed");
}

void MpiCommunicator::enter_in_step(long count) {
  if (comm_timeout() <= 0 || size_ == 1) return;
  const long seq = guarded_calls_++;
  long v[4] = {seq, count, -seq, -count};  // max and -min of both in one MPI_MAX reduction
  MPI_Request req;
  check(MPI_Iallreduce(MPI_IN_PLACE, v, 4, MPI_LONG, MPI_MAX, comm_, &req), "MPI_Iallreduce(step check)");
  wait_all(&req, 1, {"MPI_Iallreduce(step check)"});
  if (v[0] == -v[2] && v[1] == -v[3]) return;
  const std::string msg =
      world_rank_of(rank_) + " is at call " + std::to_string(seq) + " of " + std::to_string(count) + " elements of " +
      current_op() + ", but the group's ranks are at calls " + std::to_string(-v[2]) + ".." + std::to_string(v[0]) +
      " of " + std::to_string(-v[3]) + ".." + std::to_string(v[1]) + " elements: the ranks fell out of step";
  set_unusable(msg);
  throw Error(msg);
}

std::string MpiCommunicator::world_rank_of(int group_rank) const {
  return "world rank " + std::to_string(world_[group_rank]);
}

std::string MpiCommunicator::describe(const WaitFor& w, double waited) const {
  char secs[32];
  std::snprintf(secs, sizeof secs, "%g", waited);
  const std::string group = name_.empty() ? "a group of " + std::to_string(size_) + " ranks"
                            : name_.rfind("MPI_", 0) == 0 ? name_
                                                          : "the " + name_ + " group";
  std::string s = world_rank_of(rank_) + " (rank " + std::to_string(rank_) + " of " + std::to_string(size_) +
                  " in " + group + ") waited " + secs + " s in " + (w.op ? w.op : current_op()) + " (" +
                  w.call + ") ";
  if (w.peer >= 0) {
    s += "on " + world_rank_of(w.peer);
    if (w.tag >= 0) s += " (tag " + std::to_string(w.tag) + ")";
  } else {
    s += "on the group's other ranks (world ranks";
    int listed = 0;
    for (int j = 0; j < size_ && listed < 8; ++j)
      if (j != rank_) s += (listed++ ? ", " : " ") + std::to_string(world_[j]);
    if (size_ - 1 > listed) s += ", ...";
    s += ")";
  }
  return s + ": a rank is not progressing or fell out of step";
}

}  // namespace comm_detail
}  // namespace parity
