// Internals of the NCCL communicator (nccl_communicator.hpp), shared by the kernels/comm/nccl_*.cpp sources.
// CUDA build only.
#pragma once
#include <cuda_runtime_api.h>
#include <nccl.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "kernels/comm/communicator.hpp"
#include "kernels/comm/exchange_plan.hpp"

namespace parity::nccl_detail {

// Throw std::runtime_error naming the call (and NCCL's last error message for the communicator, if any).
void check(ncclResult_t r, const char* what, ncclComm_t comm = nullptr);
void check_cuda(cudaError_t e, const char* what);

// The canonical pairwise tree over p leaves (canonical.hpp), as a post-order plan: after leaf j has been
// pushed, pop and add merges[j] times (the stack top is the left operand). Passed to the kernel by value.
constexpr int kMaxRanks = 2048;
constexpr int kMaxDepth = 16;  // ceil(log2(kMaxRanks)) + 1 < 16
struct TreePlan {
  int p = 0;
  uint8_t merges[kMaxRanks] = {};
};
TreePlan make_tree_plan(int p);

// The p leaves of the local tree: leaf j is `own` when j == self, else others + slot * stride, where slot = j,
// or j - (j > self) when skip_self (the received contributions are stored without a gap for this rank).
struct Leaves {
  const float* own = nullptr;
  const float* others = nullptr;
  long stride = 0;
  int self = -1;
  bool skip_self = false;
};

// out[i] = tree over the leaves' element i, i < width; out may alias any leaf (each element is read and
// written by one thread, reads first). Enqueued on `stream`.
void tree_sum(const TreePlan& plan, const Leaves& leaves, long width, float* out, cudaStream_t stream);
// out[i] = order-free maximum over all[j * n + i], j < p (NaN anywhere -> quiet NaN; +0 over -0).
void order_free_max(const float* all, int p, long n, float* out, cudaStream_t stream);

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(MPI_Comm comm, cudaStream_t stream);
  ~NcclCommunicator() override;

  cudaStream_t stream() const { return stream_; }
  ncclComm_t comm() const { return comm_; }

  // Enqueue (no synchronisation) the all-reduce of buf[0, n) on the stream.
  void enqueue_allreduce(float* buf, long n, Numerics num);
  // Device scratch of at least n floats (grown after synchronising the stream: work in flight may use it).
  float* scratch(long n);
  // Wait for the stream.
  void sync();

  // A recorded send (isend) and the event that completes once it has been posted and has finished.
  struct PendingSend {
    const float* buf;
    long n;
    int dest;
    cudaEvent_t done = nullptr;
    bool posted = false;
  };
  // Post every recorded send, plus the ops that `extra` enqueues (may be empty), in one NCCL group on the
  // stream; the sends' events are recorded after the group.
  void post_group(const std::function<void()>& extra);
  std::shared_ptr<PendingSend> record_send(const float* buf, long n, int dest);

 protected:
  // Called by the public calls with checked arguments (communicator.cpp), which also keep the statistics.
  void do_allreduce_sum(float* buf, long n, Numerics num) override;
  void do_allreduce_max(float* buf, long n) override;
  void do_allreduce_sum(double* buf, long n) override;
  void do_reduce_scatter_sum(const float* in, float* out, const std::vector<long>& counts, Numerics num) override;
  void do_all_gather(const float* in, float* out, const std::vector<long>& counts) override;
  void do_all_to_all(const float* in, float* out, long chunk) override;
  void do_broadcast(float* buf, long n, int root) override;
  void do_send(const float* buf, long n, int dest, int tag) override;
  void do_recv(float* buf, long n, int src, int tag) override;
  std::unique_ptr<Request> do_iallreduce_sum(float* buf, long n, Numerics num) override;
  std::unique_ptr<Request> do_isend(const float* buf, long n, int dest, int tag) override;
  void do_barrier() override;

 private:
  void exact_allreduce_segment(float* buf, long m);
  // Enqueue the exact reduce-scatter of the plan (exchange_plan.hpp) from in into out (this rank's chunk):
  // grouped send/recv all-to-all, then the ordered tree over the p contributions. out may be in's own chunk.
  void enqueue_exact_reduce_scatter(const comm_detail::ExchangePlan& plan, const float* in, float* out,
                                    const char* what);
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  bool own_stream_ = false;
  float* scratch_ = nullptr;
  long scratch_cap_ = 0;
  TreePlan plan_;
  std::vector<std::shared_ptr<PendingSend>> pending_;
};

}  // namespace parity::nccl_detail
