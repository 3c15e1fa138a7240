// Non-blocking all-reduce (sum) for gradient buckets.
//
// exact: per segment, MPI_Ialltoallv of the plan's chunks (exchange_plan.hpp) is started at once; when it
// completes (in wait() or test()) the local tree runs and MPI_Iallgatherv is started; the request is done
// when every segment's all-gather has completed. The all-gathers are started in request order (a FIFO in
// the communicator) on their own communicator, so all ranks start the same collectives in the same order.
// fast: MPI_Iallreduce per segment.
#include <algorithm>
#include <exception>

#include "kernels/comm/detail.hpp"

namespace parity::comm_detail {

namespace {

std::vector<int> ints(const std::vector<long>& v) { return std::vector<int>(v.begin(), v.end()); }

// Starts the all-to-all of one segment of m elements at buf, its received contributions going to scratch.
void start_segment(MpiCommunicator* c, NbSegment& s, float* buf, long m, float* scratch) {
  s.buf = buf;
  s.scratch = scratch;
  s.plan.build(chunk_counts(m, c->size()), c->rank());
  s.sc = ints(s.plan.scounts), s.sd = ints(s.plan.sdispls), s.rc = ints(s.plan.rcounts), s.rd = ints(s.plan.rdispls);
  s.ac = ints(s.plan.counts), s.ad = ints(s.plan.displs);
  check(MPI_Ialltoallv(s.buf, s.sc.data(), s.sd.data(), MPI_FLOAT, s.scratch, s.rc.data(), s.rd.data(), MPI_FLOAT,
                       c->comm_start(), &s.req),
        "MPI_Ialltoallv");
  c->enqueue(&s);
}

class ExactRequest final : public Communicator::Request {
 public:
  ExactRequest(MpiCommunicator* c, float* buf, long n) : c_(c) {
    const int p = c->size(), r = c->rank();
    // Segments whose counts and displacements (up to (p-1) * ceil(m/p) on the receive side) fit an int.
    const long segmax = std::min(max_count(), long(INT_MAX / 2));
    long scratch = 0;
    for (long off = 0; off < n; off += segmax) scratch += (p - 1) * chunk_counts(std::min(segmax, n - off), p)[r];
    buf_ = c->take_buffer(scratch);
    segs_.resize((n + segmax - 1) / segmax);
    long soff = 0;
    for (size_t k = 0; k < segs_.size(); ++k) {
      const long off = long(k) * segmax;
      start_segment(c, segs_[k], buf + off, std::min(segmax, n - off), buf_.data() + soff);
      soff += segs_[k].plan.scratch_size();
    }
  }
  ~ExactRequest() override {
    if (finished_) return;
    if (std::uncaught_exceptions() > 0 || c_->in_error()) {  // waiting could take another whole timeout
      abandon();
      return;
    }
    try {
      wait();
    } catch (...) {
    }
  }

 protected:
  void do_wait() override {
    if (!segs_.empty() && segs_.back().stage == 0) c_->advance(&segs_.back());
    for (NbSegment& s : segs_) c_->wait_all(&s.req, 1, {"MPI_Iallgatherv", -1, -1, "iallreduce_sum.exact"});
    finish();
  }
  bool do_test() override {
    c_->advance(nullptr);
    for (NbSegment& s : segs_) {
      if (s.stage == 0) return false;
      if (s.stage == 1) {
        int flag = 0;
        check(MPI_Test(&s.req, &flag, MPI_STATUS_IGNORE), "MPI_Test(Iallgatherv)");
        if (!flag) return false;
        s.stage = 2;
      }
    }
    finish();
    return true;
  }

 private:
  void finish() {
    for (NbSegment& s : segs_) s.stage = 2;
    c_->give_buffer(std::move(buf_));
    finished_ = true;
  }
  // Destroyed by unwinding before completion: MPI keeps the requests and the scratch they write to.
  void abandon() {
    std::vector<MPI_Request> reqs;
    for (NbSegment& s : segs_) reqs.push_back(s.req);
    c_->forget(segs_.data(), segs_.size());
    c_->abandon(reqs.data(), int(reqs.size()), std::move(buf_), "iallreduce_sum.exact");
  }
  MpiCommunicator* c_;
  std::vector<float> buf_;
  std::vector<NbSegment> segs_;  // never resized after the MPI calls started: the queue holds pointers
  bool finished_ = false;
};

class FastRequest final : public Communicator::Request {
 public:
  FastRequest(MpiCommunicator* c, float* buf, long n) : c_(c) {
    const long m = max_count();
    for (long off = 0; off < n; off += m) {
      reqs_.emplace_back();
      check(MPI_Iallreduce(MPI_IN_PLACE, buf + off, int(std::min(m, n - off)), MPI_FLOAT, MPI_SUM,
                           c->comm_start(), &reqs_.back()),
            "MPI_Iallreduce");
    }
  }
  ~FastRequest() override {
    if (finished_) return;
    if (std::uncaught_exceptions() > 0 || c_->in_error()) {
      c_->abandon(reqs_.data(), int(reqs_.size()), {}, "iallreduce_sum.fast");
      return;
    }
    try {
      wait();
    } catch (...) {
    }
  }

 protected:
  void do_wait() override {
    c_->wait_all(reqs_.data(), int(reqs_.size()), {"MPI_Iallreduce", -1, -1, "iallreduce_sum.fast"});
    finished_ = true;
  }
  bool do_test() override {
    int flag = 0;
    check(MPI_Testall(int(reqs_.size()), reqs_.data(), &flag, MPI_STATUSES_IGNORE), "MPI_Testall(Iallreduce)");
    finished_ = flag != 0;
    return finished_;
  }

 private:
  MpiCommunicator* c_;
  std::vector<MPI_Request> reqs_;
  bool finished_ = false;
};

struct Done final : Communicator::Request {
  void do_wait() override {}
  bool do_test() override { return true; }
};

}  // namespace

void MpiCommunicator::advance(NbSegment* until) {
  if (until && until->stage != 0) return;
  while (!pending_.empty()) {
    NbSegment* s = pending_.front();
    if (until) {
      wait_all(&s->req, 1, {"MPI_Ialltoallv", -1, -1, "iallreduce_sum.exact"});
    } else {
      int flag = 0;
      check(MPI_Test(&s->req, &flag, MPI_STATUS_IGNORE), "MPI_Test(Ialltoallv)");
      if (!flag) return;
    }
    // The local tree over the p contributions to this rank's chunk, then the all-gather.
    const ExchangePlan& plan = s->plan;
    plan.leaves(s->buf, s->scratch, leaves_);
    tree_sum_leaves(leaves_.data(), plan.p, plan.mine, s->buf + plan.displs[rank_], tree_tmp_);
    check(MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, s->buf, s->ac.data(), s->ad.data(), MPI_FLOAT,
                          comm_gather_, &s->req),
          "MPI_Iallgatherv");
    s->stage = 1;
    pending_.pop_front();
    if (s == until) return;
  }
}

void MpiCommunicator::forget(const NbSegment* segs, size_t n) {
  pending_.erase(std::remove_if(pending_.begin(), pending_.end(),
                                [&](const NbSegment* s) { return s >= segs && s < segs + n; }),
                 pending_.end());
}

std::unique_ptr<Communicator::Request> MpiCommunicator::do_iallreduce_sum(float* buf, long n, Numerics num) {
  if (size_ == 1 || n == 0) return std::make_unique<Done>();
  if (num == Numerics::exact) return std::make_unique<ExactRequest>(this, buf, n);
  return std::make_unique<FastRequest>(this, buf, n);
}

}  // namespace parity::comm_detail
