// Non-blocking all-reduce (sum) for gradient buckets.
//
// exact: per segment, MPI_Ialltoallv of the chunks is started at once; when it completes (in wait() or
// test()) the local tree runs and MPI_Iallgatherv is started; the request is done when every segment's
// all-gather has completed. The all-gathers are started in request order (a FIFO in the communicator)
// on their own communicator, so all ranks start the same collectives in the same order.
// fast: MPI_Iallreduce per segment.
#include <algorithm>

#include "kernels/comm/detail.hpp"

namespace parity::comm_detail {

namespace {

class ExactRequest final : public Communicator::Request {
 public:
  ExactRequest(MpiCommunicator* c, float* buf, long n) : c_(c) {
    const int p = c->size(), r = c->rank();
    // Segments whose counts and displacements (up to (p-1) * ceil(m/p) on the receive side) fit an int.
    const long segmax = std::min(max_count(), long(INT_MAX / 2));
    long scratch = 0;
    for (long off = 0; off < n; off += segmax) {
      const long m = std::min(segmax, n - off);
      scratch += (p - 1) * chunk_counts(m, p)[r];
    }
    buf_ = c->take_buffer(scratch);
    segs_.resize((n + segmax - 1) / segmax);
    long soff = 0;
    for (size_t k = 0; k < segs_.size(); ++k) {
      NbSegment& s = segs_[k];
      const long off = long(k) * segmax;
      s.buf = buf + off;
      s.m = std::min(segmax, n - off);
      s.scratch = buf_.data() + soff;
      const std::vector<long> counts = chunk_counts(s.m, p), displs = displacements(counts);
      const long mine = counts[r];
      soff += (p - 1) * mine;
      s.sc.assign(p, 0), s.sd.assign(p, 0), s.rc.assign(p, 0), s.rd.assign(p, 0);
      s.ac.assign(counts.begin(), counts.end());
      s.ad.assign(displs.begin(), displs.end());
      for (int j = 0, slot = 0; j < p; ++j) {
        if (j == r) continue;
        s.sc[j] = int(counts[j]);
        s.sd[j] = int(displs[j]);
        s.rc[j] = int(mine);
        s.rd[j] = int(slot * mine);
        ++slot;
      }
      check(MPI_Ialltoallv(s.buf, s.sc.data(), s.sd.data(), MPI_FLOAT, s.scratch, s.rc.data(), s.rd.data(),
                           MPI_FLOAT, c->comm_start(), &s.req),
            "MPI_Ialltoallv");
      c->enqueue(&s);
    }
  }
  ~ExactRequest() override {
    if (!done_) {
      try {
        wait();
      } catch (...) {
      }
    }
  }
  void wait() override {
    if (done_) return;
    const double t0 = now();
    if (!segs_.empty() && segs_.back().stage == 0) c_->advance(&segs_.back());
    for (NbSegment& s : segs_) check(MPI_Wait(&s.req, MPI_STATUS_IGNORE), "MPI_Wait(Iallgatherv)");
    finish();
    c_->stats().by_op["iallreduce_sum.exact"].seconds += now() - t0;
  }
  bool test() override {
    if (done_) return true;
    const double t0 = now();
    c_->advance(nullptr);
    bool all = true;
    for (NbSegment& s : segs_) {
      if (s.stage == 0) {
        all = false;
        break;
      }
      if (s.stage == 1) {
        int flag = 0;
        check(MPI_Test(&s.req, &flag, MPI_STATUS_IGNORE), "MPI_Test(Iallgatherv)");
        if (flag) s.stage = 2;
        else all = false;
      }
    }
    if (all) finish();
    c_->stats().by_op["iallreduce_sum.exact"].seconds += now() - t0;
    return done_;
  }

 private:
  void finish() {
    for (NbSegment& s : segs_) s.stage = 2;
    c_->give_buffer(std::move(buf_));
    done_ = true;
  }
  MpiCommunicator* c_;
  std::vector<float> buf_;
  std::vector<NbSegment> segs_;  // never resized after the MPI calls started: the queue holds pointers
  bool done_ = false;
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
    if (!done_) MPI_Waitall(int(reqs_.size()), reqs_.data(), MPI_STATUSES_IGNORE);
  }
  void wait() override {
    if (done_) return;
    const double t0 = now();
    check(MPI_Waitall(int(reqs_.size()), reqs_.data(), MPI_STATUSES_IGNORE), "MPI_Waitall(Iallreduce)");
    done_ = true;
    c_->stats().by_op["iallreduce_sum.fast"].seconds += now() - t0;
  }
  bool test() override {
    if (done_) return true;
    const double t0 = now();
    int flag = 0;
    check(MPI_Testall(int(reqs_.size()), reqs_.data(), &flag, MPI_STATUSES_IGNORE), "MPI_Testall(Iallreduce)");
    done_ = flag != 0;
    c_->stats().by_op["iallreduce_sum.fast"].seconds += now() - t0;
    return done_;
  }

 private:
  MpiCommunicator* c_;
  std::vector<MPI_Request> reqs_;
  bool done_ = false;
};

struct Done final : Communicator::Request {
  void wait() override {}
  bool test() override { return true; }
};

}  // namespace

void MpiCommunicator::advance(NbSegment* until) {
  if (until && until->stage != 0) return;
  while (!pending_.empty()) {
    NbSegment* s = pending_.front();
    if (until) {
      check(MPI_Wait(&s->req, MPI_STATUS_IGNORE), "MPI_Wait(Ialltoallv)");
    } else {
      int flag = 0;
      check(MPI_Test(&s->req, &flag, MPI_STATUS_IGNORE), "MPI_Test(Ialltoallv)");
      if (!flag) return;
    }
    // The local tree over the p contributions to this rank's chunk, then the all-gather.
    const int p = size_, r = rank_;
    leaves_.resize(p);
    for (int j = 0, slot = 0; j < p; ++j)
      leaves_[j] = j == r ? s->buf + s->ad[r] : s->scratch + long(slot++) * s->ac[r];
    tree_sum_leaves(leaves_.data(), p, s->ac[r], s->buf + s->ad[r], tree_tmp_);
    check(MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, s->buf, s->ac.data(), s->ad.data(), MPI_FLOAT,
                          comm_gather_, &s->req),
          "MPI_Iallgatherv");
    s->stage = 1;
    pending_.pop_front();
    if (s == until) return;
  }
}

std::unique_ptr<Communicator::Request> MpiCommunicator::iallreduce_sum(float* buf, long n, Numerics num) {
  const double t0 = now();
  std::unique_ptr<Request> req;
  if (size_ == 1 || n == 0)
    req = std::make_unique<Done>();
  else if (num == Numerics::exact)
    req = std::make_unique<ExactRequest>(this, buf, n);
  else
    req = std::make_unique<FastRequest>(this, buf, n);
  stats_.add(num == Numerics::exact ? "iallreduce_sum.exact" : "iallreduce_sum.fast", double(n) * sizeof(float),
             now() - t0);
  return req;
}

}  // namespace parity::comm_detail
