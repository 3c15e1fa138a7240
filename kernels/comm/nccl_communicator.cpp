// NcclCommunicator: construction, scratch, the local-tree and maximum kernels, barrier, maximum, the fp64
// all-reduce, and the factory. Compiled as CUDA (nvcc_wrapper); CUDA build only.
#include "kernels/comm/nccl_communicator.hpp"

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "kernels/canonical.hpp"
#include "kernels/comm/detail.hpp"
#include "kernels/comm/nccl_detail.hpp"
#include "kernels/error.hpp"

namespace parity {
namespace nccl_detail {

void check(ncclResult_t r, const char* what, ncclComm_t comm) {
  if (r == ncclSuccess || r == ncclInProgress) return;
  std::string msg = std::string(what) + " failed: " + ncclGetErrorString(r);
  if (comm) {
    const char* last = ncclGetLastError(comm);
    if (last && *last) msg += std::string(" (") + last + ")";
  }
  throw std::runtime_error(msg);
}

void check_cuda(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + " failed: " + cudaGetErrorString(e));
}

TreePlan make_tree_plan(int p) {
  if (p < 1 || p > kMaxRanks)
    throw Error("NCCL communicator: " + std::to_string(p) + " ranks (at most " +
                                std::to_string(kMaxRanks) + " supported by the exact tree)");
  std::vector<uint8_t> merges;
  tree_merge_counts(p, merges);  // the post-order form of canonical.hpp's tree
  TreePlan plan;
  plan.p = p;
  for (int j = 0; j < p; ++j) plan.merges[j] = merges[j];
  return plan;
}

namespace {

unsigned grid_for(long n) {
  const long g = (n + 255) / 256;
  return static_cast<unsigned>(g < 65535 * 16 ? (g > 0 ? g : 1) : 65535 * 16);
}

__global__ void tree_sum_kernel(const TreePlan plan, const Leaves L, long width, float* out) {
  for (long i = blockIdx.x * long(blockDim.x) + threadIdx.x; i < width; i += long(gridDim.x) * blockDim.x) {
    float stack[kMaxDepth];
    int top = 0;
    for (int j = 0; j < plan.p; ++j) {
      const float* leaf =
          j == L.self ? L.own : L.others + long(L.skip_self && j > L.self ? j - 1 : j) * L.stride;
      float acc = leaf[i];
      for (int k = 0; k < plan.merges[j]; ++k) acc = stack[--top] + acc;  // left + right, as on the host
      stack[top++] = acc;
    }
    out[i] = stack[0];
  }
}

__device__ inline float order_free_max2(float a, float b) {
  if (isnan(a) || isnan(b)) return __int_as_float(0x7fc00000);  // the canonical quiet NaN
  if (a > b) return a;
  if (b > a) return b;
  return signbit(a) ? b : a;  // equal: +0 over -0
}

__global__ void max_kernel(const float* all, int p, long n, float* out) {
  for (long i = blockIdx.x * long(blockDim.x) + threadIdx.x; i < n; i += long(gridDim.x) * blockDim.x) {
    float m = all[i];
    if (isnan(m)) m = __int_as_float(0x7fc00000);
    for (int j = 1; j < p; ++j) m = order_free_max2(m, all[long(j) * n + i]);
    out[i] = m;
  }
}

__global__ void one_kernel(float* x) { *x = 1.0f; }

}  // namespace

void tree_sum(const TreePlan& plan, const Leaves& leaves, long width, float* out, cudaStream_t stream) {
  if (width <= 0) return;
  tree_sum_kernel<<<grid_for(width), 256, 0, stream>>>(plan, leaves, width, out);
  check_cuda(cudaGetLastError(), "tree_sum_kernel");
}

void order_free_max(const float* all, int p, long n, float* out, cudaStream_t stream) {
  if (n <= 0) return;
  max_kernel<<<grid_for(n), 256, 0, stream>>>(all, p, n, out);
  check_cuda(cudaGetLastError(), "max_kernel");
}

NcclCommunicator::NcclCommunicator(MPI_Comm comm, cudaStream_t stream) : stream_(stream) {
  int init = 0;
  MPI_Initialized(&init);
  if (!init) throw std::runtime_error("make_nccl_communicator: MPI is not initialised");
  MPI_Comm_rank(comm, &rank_);
  MPI_Comm_size(comm, &size_);
  plan_ = make_tree_plan(size_);
  ncclUniqueId id;
  if (rank_ == 0) check(ncclGetUniqueId(&id), "ncclGetUniqueId");
  comm_detail::check(MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, comm), "MPI_Bcast(ncclUniqueId)");
  if (!stream_) {
    check_cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
    own_stream_ = true;
  }
  check(ncclCommInitRank(&comm_, size_, id, rank_), "ncclCommInitRank");
}

NcclCommunicator::~NcclCommunicator() {
  if (stream_) cudaStreamSynchronize(stream_);  // (recorded sends' events belong to their requests)
  if (comm_) ncclCommDestroy(comm_);
  if (scratch_) cudaFree(scratch_);
  if (own_stream_) cudaStreamDestroy(stream_);
}

void NcclCommunicator::sync() { check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize"); }

float* NcclCommunicator::scratch(long n) {
  if (n <= scratch_cap_) return scratch_;
  sync();  // queued work may still read or write the old buffer
  if (scratch_) check_cuda(cudaFree(scratch_), "cudaFree");
  scratch_ = nullptr;
  scratch_cap_ = 0;
  void* p = nullptr;
  check_cuda(cudaMalloc(&p, sizeof(float) * n), "cudaMalloc(communicator scratch)");
  scratch_ = static_cast<float*>(p);
  scratch_cap_ = n;
  return scratch_;
}

void NcclCommunicator::do_barrier() {
  // NCCL has no barrier: a one-element all-reduce, synchronised, orders every rank's host and GPU work.
  float* x = scratch(1);
  one_kernel<<<1, 1, 0, stream_>>>(x);
  check_cuda(cudaGetLastError(), "one_kernel");
  check(ncclAllReduce(x, x, 1, ncclFloat32, ncclSum, comm_, stream_), "ncclAllReduce(barrier)", comm_);
  sync();
}

void NcclCommunicator::do_allreduce_max(float* buf, long n) {
  // Every rank gathers every rank's values and takes the order-free maximum (the same bits whatever the
  // order; NCCL's ncclMax promises nothing about NaN or signed zeros). In segments that bound the scratch.
  const long seg = std::max(1L, comm_detail::allreduce_segment() / size_);
  for (long off = 0; off < n; off += seg) {
    const long m = std::min(seg, n - off);
    float* all = scratch(long(size_) * m);
    check(ncclAllGather(buf + off, all, m, ncclFloat32, comm_, stream_), "ncclAllGather(max)", comm_);
    order_free_max(all, size_, m, buf + off, stream_);
  }
  sync();
}

void NcclCommunicator::do_allreduce_sum(double* buf, long n) {
  if (n > 0) check(ncclAllReduce(buf, buf, n, ncclFloat64, ncclSum, comm_, stream_), "ncclAllReduce(f64)", comm_);
  sync();
}

}  // namespace nccl_detail

std::unique_ptr<Communicator> make_nccl_communicator(MPI_Comm comm, cudaStream_t stream) {
  return std::make_unique<nccl_detail::NcclCommunicator>(comm, stream);
}

cudaStream_t nccl_stream(const Communicator& c) {
  const auto* n = dynamic_cast<const nccl_detail::NcclCommunicator*>(&c);
  return n ? n->stream() : nullptr;
}

}  // namespace parity
