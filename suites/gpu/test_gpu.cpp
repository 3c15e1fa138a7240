// GPU tests of the CUDA build (run by ci/gpu-check.sh on a machine with a GPU; label `gpu`).
//
//   - cuBLAS GEMMs (kernels/cuda/gemm_cublas): the three forms in fp32, bf16 and fp16 against an fp64 host
//     reference on the same (rounded) inputs, within the fp32-accumulation error bound;
//   - the 16-bit conversion kernel against the host's round_to, bit for bit;
//   - the NCCL communicator's local tree kernel against the host tree (comm_detail::tree_sum_leaves), bit for
//     bit, for 1..9 and 16 leaves, and its order-free maximum;
//   - the NCCL communicator over MPI_COMM_WORLD (one GPU per rank; on one GPU a single rank) on exact-sum
//     inputs (small integers times powers of two: every order gives the same sum), exact and fast.
//
// Run: build-cuda/parity_gpu_tests, or mpirun -np <GPUs> build-cuda/parity_gpu_tests.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <Kokkos_Core.hpp>
#include <cuda_runtime.h>
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <vector>

#include "kernels/comm/detail.hpp"
#include "kernels/comm/nccl_communicator.hpp"
#include "kernels/comm/nccl_detail.hpp"
#include "kernels/cuda/device_check.hpp"
#include "kernels/cuda/gemm_cublas.hpp"
#include "kernels/attention.hpp"
#include "kernels/device.hpp"
#include "kernels/gelu.hpp"
#include "kernels/precision.hpp"

namespace {

using parity::Numerics;
using parity::Precision;

#define CUDA_OK(call) ASSERT_EQ((call), cudaSuccess) << #call

// A device buffer of T (RAII).
template <class T>
struct Dev {
  T* p = nullptr;
  long n = 0;
  explicit Dev(long count) : n(count) {
    if (cudaMalloc(reinterpret_cast<void**>(&p), sizeof(T) * std::max(1L, count)) != cudaSuccess) p = nullptr;
  }
  ~Dev() { cudaFree(p); }
  Dev(const Dev&) = delete;
  Dev& operator=(const Dev&) = delete;
  void put(const std::vector<T>& h) { cudaMemcpy(p, h.data(), sizeof(T) * h.size(), cudaMemcpyHostToDevice); }
  std::vector<T> get() const {
    std::vector<T> h(n);
    cudaMemcpy(h.data(), p, sizeof(T) * n, cudaMemcpyDeviceToHost);
    return h;
  }
};

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

std::vector<float> random_rounded(Precision prec, long n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(gen);
  parity::round_to(prec, v.data(), n);
  return v;
}

// The operand on the device in the precision's storage format (the values are already representable).
std::unique_ptr<Dev<char>> to_device(Precision prec, const std::vector<float>& h) {
  const long n = long(h.size());
  Dev<float> f(n);
  f.put(h);
  auto d = std::make_unique<Dev<char>>(n * parity::cuda::element_bytes(prec));
  parity::cuda::convert_from_float(prec, f.p, d->p, n);
  cudaDeviceSynchronize();
  return d;
}

// |got - ref| <= 4 · k · 2^-24 · sum|a·b| (+ the bias' rounding), per element: the fp32-accumulation bound
// with room for tensor-core accumulation; ref and absref in fp64.
void expect_close(const std::vector<float>& got, const std::vector<double>& ref, const std::vector<double>& absref,
                  long k, const char* what) {
  const double u = std::ldexp(1.0, -24);
  long bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double tol = 4.0 * double(k + 2) * u * absref[i] + 1e-30;
    if (!(std::fabs(double(got[i]) - ref[i]) <= tol)) {
      if (bad++ < 5)
        ADD_FAILURE() << what << ": element " << i << " = " << got[i] << ", reference " << ref[i] << ", tolerance " << tol;
    }
  }
  EXPECT_EQ(bad, 0) << what;
}

class GemmTest : public ::testing::TestWithParam<Precision> {};

TEST_P(GemmTest, ThreeFormsMatchFp64Reference) {
  const Precision prec = GetParam();
  parity::cuda::CublasGemm gemm;
  for (auto [N, K, O] : {std::tuple<long, long, long>{67, 129, 45}, {256, 768, 2304}, {1, 32, 1}}) {
    const auto X = random_rounded(prec, N * K, 1), W = random_rounded(prec, O * K, 2, 0.02f);
    const auto dY = random_rounded(prec, N * O, 3), bias = random_rounded(Precision::fp32, O, 4);
    auto dX_ = to_device(prec, X), dW_ = to_device(prec, W), ddY_ = to_device(prec, dY);
    Dev<float> dbias(O), Y(N * O), dX(N * K), dW(O * K);
    dbias.put(bias);

    // Y = X·Wᵀ + b
    gemm.xwt(prec, dX_->p, dW_->p, dbias.p, Y.p, N, K, O);
    CUDA_OK(cudaStreamSynchronize(gemm.stream()));
    std::vector<double> ref(N * O), abs(N * O);
    for (long n = 0; n < N; ++n)
      for (long o = 0; o < O; ++o) {
        double s = 0, a = 0;
        for (long k = 0; k < K; ++k) {
          s += double(X[n * K + k]) * W[o * K + k];
          a += std::fabs(double(X[n * K + k]) * W[o * K + k]);
        }
        ref[n * O + o] = s + bias[o];
        abs[n * O + o] = a + std::fabs(bias[o]);
      }
    expect_close(Y.get(), ref, abs, K, "xwt");

    // dX = dY·W
    gemm.dyw(prec, ddY_->p, dW_->p, dX.p, N, O, K);
    CUDA_OK(cudaStreamSynchronize(gemm.stream()));
    ref.assign(N * K, 0);
    abs.assign(N * K, 0);
    for (long n = 0; n < N; ++n)
      for (long k = 0; k < K; ++k)
        for (long o = 0; o < O; ++o) {
          ref[n * K + k] += double(dY[n * O + o]) * W[o * K + k];
          abs[n * K + k] += std::fabs(double(dY[n * O + o]) * W[o * K + k]);
        }
    expect_close(dX.get(), ref, abs, O, "dyw");

    // dW = dYᵀ·X (overwritten, not accumulated)
    CUDA_OK(cudaMemset(dW.p, 0x7f, sizeof(float) * O * K));
    gemm.dytx(prec, ddY_->p, dX_->p, dW.p, N, O, K);
    CUDA_OK(cudaStreamSynchronize(gemm.stream()));
    ref.assign(O * K, 0);
    abs.assign(O * K, 0);
    for (long n = 0; n < N; ++n)
      for (long o = 0; o < O; ++o)
        for (long k = 0; k < K; ++k) {
          ref[o * K + k] += double(dY[n * O + o]) * X[n * K + k];
          abs[o * K + k] += std::fabs(double(dY[n * O + o]) * X[n * K + k]);
        }
    expect_close(dW.get(), ref, abs, N, "dytx");
  }
}

INSTANTIATE_TEST_SUITE_P(Precisions, GemmTest, ::testing::Values(Precision::fp32, Precision::bf16, Precision::fp16),
                         [](const auto& info) { return std::string(parity::to_string(info.param)); });

TEST(Convert, SixteenBitRoundingMatchesHost) {
  const long n = 1 << 16;
  std::mt19937 gen(7);
  std::vector<float> x(n);
  for (long i = 0; i < n; ++i) {  // wide exponents, ties, subnormals of the 16-bit formats
    const float m = std::uniform_real_distribution<float>(-2.0f, 2.0f)(gen);
    x[i] = std::ldexp(m, int(gen() % 60) - 30);
  }
  Dev<float> src(n);
  src.put(x);
  for (Precision prec : {Precision::bf16, Precision::fp16}) {
    Dev<uint16_t> dst(n);
    parity::cuda::convert_from_float(prec, src.p, dst.p, n);
    CUDA_OK(cudaDeviceSynchronize());
    const auto got = dst.get();
    std::vector<float> want = x;
    parity::round_to(prec, want.data(), n);
    long bad = 0;
    for (long i = 0; i < n; ++i) {
      float g;
      if (prec == Precision::bf16) {
        __nv_bfloat16 b;
        std::memcpy(&b, &got[i], 2);
        g = __bfloat162float(b);
      } else {
        __half h;
        std::memcpy(&h, &got[i], 2);
        g = __half2float(h);
      }
      if (bits(g) != bits(want[i]) && bad++ < 5)
        ADD_FAILURE() << parity::to_string(prec) << ": " << x[i] << " -> " << g << ", host " << want[i];
    }
    EXPECT_EQ(bad, 0) << parity::to_string(prec);
  }
}

TEST(NcclTree, DeviceTreeIsBitIdenticalToHostTree) {
  namespace nd = parity::nccl_detail;
  const long width = 10007;
  for (int p : {1, 2, 3, 4, 5, 6, 7, 8, 9, 16}) {
    std::mt19937 gen(100 + p);
    std::normal_distribution<float> d(0.0f, 1.0f);
    std::vector<float> all(long(p) * width);
    for (auto& v : all) v = std::ldexp(d(gen), int(gen() % 40) - 20);  // wide range: order matters
    // Host: the MPI communicator's tree.
    std::vector<const float*> leaves(p);
    for (int j = 0; j < p; ++j) leaves[j] = all.data() + long(j) * width;
    std::vector<float> want(width), tmp;
    parity::comm_detail::tree_sum_leaves(leaves.data(), p, width, want.data(), tmp);
    // Device, with this rank's leaf apart (skip_self) as in the chunked all-reduce.
    for (int self = 0; self < p; ++self) {
      std::vector<float> others;
      for (int j = 0; j < p; ++j)
        if (j != self) others.insert(others.end(), leaves[j], leaves[j] + width);
      Dev<float> own(width), oth(std::max(1L, long(p - 1) * width));
      std::vector<float> mine(leaves[self], leaves[self] + width);
      own.put(mine);
      if (!others.empty()) oth.put(others);
      nd::Leaves L;
      L.own = own.p;
      L.others = oth.p;
      L.stride = width;
      L.self = self;
      L.skip_self = true;
      nd::tree_sum(nd::make_tree_plan(p), L, width, own.p, nullptr);  // out aliases the own leaf
      CUDA_OK(cudaDeviceSynchronize());
      const auto got = own.get();
      long bad = 0;
      for (long i = 0; i < width; ++i) bad += bits(got[i]) != bits(want[i]);
      EXPECT_EQ(bad, 0) << "p=" << p << " self=" << self;
    }
  }
}

TEST(NcclTree, OrderFreeMax) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  // 3 ranks x 5 elements.
  const std::vector<float> all = {-0.0f, 1.0f, nan, -inf, 2.0f,   //
                                  0.0f, -1.0f, 0.0f, -5.0f, 2.0f,  //
                                  -0.0f, 3.0f, 1.0f, -7.0f, -2.0f};
  Dev<float> a(15), out(5);
  a.put(all);
  parity::nccl_detail::order_free_max(a.p, 3, 5, out.p, nullptr);
  CUDA_OK(cudaDeviceSynchronize());
  const auto got = out.get();
  EXPECT_EQ(bits(got[0]), bits(0.0f));  // +0 over -0
  EXPECT_EQ(got[1], 3.0f);
  EXPECT_EQ(bits(got[2]), 0x7fc00000u);  // the canonical quiet NaN
  EXPECT_EQ(got[3], -5.0f);
  EXPECT_EQ(got[4], 2.0f);
}

// The NCCL communicator over MPI_COMM_WORLD.
class NcclComm : public ::testing::TestWithParam<Numerics> {
 protected:
  static void SetUpTestSuite() { comm_ = parity::make_nccl_communicator(MPI_COMM_WORLD).release(); }
  static void TearDownTestSuite() {
    delete comm_;
    comm_ = nullptr;
  }
  static parity::Communicator* comm_;
};
parity::Communicator* NcclComm::comm_ = nullptr;

// Rank r's value at i: a small integer times 2^-3, so every partial sum is exact in fp32.
float exact_value(int r, long i) { return float(int((i * 7 + r * 13) % 29) - 14) * 0.125f; }

TEST_P(NcclComm, AllreduceAndReduceScatterSums) {
  const Numerics num = GetParam();
  const int p = comm_->size(), r = comm_->rank();
  for (long n : {1L, 31L, 1000L, 100003L, (1L << 22) + 5}) {  // gather path, chunked path, several segments
    std::vector<float> h(n), want(n);
    for (long i = 0; i < n; ++i) {
      h[i] = exact_value(r, i);
      float s = 0;
      for (int j = 0; j < p; ++j) s += exact_value(j, i);
      want[i] = s;
    }
    Dev<float> buf(n);
    buf.put(h);
    comm_->allreduce_sum(buf.p, n, num);
    EXPECT_EQ(buf.get(), want) << "allreduce n=" << n;

    buf.put(h);
    auto req = comm_->iallreduce_sum(buf.p, n, num);
    req->wait();
    EXPECT_EQ(buf.get(), want) << "iallreduce n=" << n;

    // Reduce-scatter with unequal counts (the first n % p ranks one more).
    const std::vector<long> counts = parity::chunk_counts(n, p);
    const std::vector<long> displs = parity::comm_detail::displacements(counts);
    Dev<float> in(n), out(std::max(1L, counts[r]));
    in.put(h);
    comm_->reduce_scatter_sum(in.p, out.p, counts, num);
    auto got = out.get();
    got.resize(counts[r]);
    EXPECT_EQ(got, std::vector<float>(want.begin() + displs[r], want.begin() + displs[r] + counts[r]))
        << "reduce_scatter n=" << n;
  }
}

INSTANTIATE_TEST_SUITE_P(Numerics, NcclComm, ::testing::Values(Numerics::exact, Numerics::fast),
                         [](const auto& info) { return std::string(info.param == Numerics::exact ? "exact" : "fast"); });

TEST(NcclCommBasic, GatherBroadcastMaxAndDouble) {
  auto comm = parity::make_nccl_communicator(MPI_COMM_WORLD);
  const int p = comm->size(), r = comm->rank();
  // All-gather with per-rank counts, in place.
  std::vector<long> counts(p);
  for (int j = 0; j < p; ++j) counts[j] = 3 + j;
  const auto displs = parity::comm_detail::displacements(counts);
  const long total = displs[p - 1] + counts[p - 1];
  std::vector<float> want(total);
  for (int j = 0; j < p; ++j)
    for (long i = 0; i < counts[j]; ++i) want[displs[j] + i] = float(100 * j + i);
  Dev<float> g(total);
  std::vector<float> h(total, -1.0f);
  for (long i = 0; i < counts[r]; ++i) h[displs[r] + i] = float(100 * r + i);
  g.put(h);
  comm->all_gather(g.p + displs[r], g.p, counts);
  EXPECT_EQ(g.get(), want);

  // Broadcast from the last rank.
  Dev<float> b(5);
  b.put(std::vector<float>(5, float(r)));
  comm->broadcast(b.p, 5, p - 1);
  EXPECT_EQ(b.get(), std::vector<float>(5, float(p - 1)));

  // Maximum: +0 over -0 whatever the ranks hold; a NaN on one rank is the canonical NaN everywhere.
  Dev<float> m(3);
  m.put({r == 0 ? -0.0f : 0.0f, float(r), r == p - 1 ? std::numeric_limits<float>::quiet_NaN() : 1.0f});
  comm->allreduce_max(m.p, 3);
  const auto mx = m.get();
  EXPECT_EQ(bits(mx[0]), p > 1 ? bits(0.0f) : bits(-0.0f));
  EXPECT_EQ(mx[1], float(p - 1));
  EXPECT_EQ(bits(mx[2]), 0x7fc00000u);

  // fp64 (statistics).
  Dev<double> d(2);
  d.put({1.0, double(r)});
  comm->allreduce_sum(d.p, 2);
  EXPECT_EQ(d.get(), (std::vector<double>{double(p), double(p) * (p - 1) / 2}));

  comm->barrier();
  EXPECT_EQ(comm->stats().by_op.at("all_gather").calls, 1);
  EXPECT_EQ(comm->stats().by_op.at("barrier").calls, 1);
}

}  // namespace

// The first layer kernel on the device through Kokkos: GELU's bits equal the host kernel's (the same
// per-element operations and parity's own tanh; the build passes --fmad=false).
TEST(GpuKernels, GeluDeviceMatchesHostBitForBit) {
  const long n = 1 << 20;
  std::vector<float> x(n);
  for (long i = 0; i < n; ++i) x[i] = -12.0f + 24.0f * static_cast<float>(i) / static_cast<float>(n - 1);
  std::vector<float> out(n), th(n);
  parity::gelu_forward(out.data(), th.data(), x.data(), n);
  Dev<float> dx(n), dout(n), dth(n);
  ASSERT_TRUE(dx.p && dout.p && dth.p);
  dx.put(x);
  parity::gelu_forward_device(dout.p, dth.p, dx.p, n);
  const std::vector<float> gout = dout.get(), gth = dth.get();
  long differ = 0;
  for (long i = 0; i < n; ++i) differ += bits(gout[i]) != bits(out[i]) || bits(gth[i]) != bits(th[i]);
  EXPECT_EQ(differ, 0) << "of " << n << " GELU values differ between the GPU and the CPU";
}

// Fast attention on the GPU (cuBLAS strided-batched SGEMMs around the softmax kernels) against the exact
// device kernels, forward and backward, on managed memory: within fp32 reassociation error.
TEST(GpuKernels, AttentionFastMatchesExact) {
  const long S = 2, T = 96, Hl = 3, hs = 32, C3 = Hl * 3 * hs, Cl = Hl * hs;
  std::mt19937 gen(11);
  std::normal_distribution<float> d(0.0f, 1.0f);
  parity::uvector<float> qkv(S * T * C3), dout(S * T * Cl);
  for (float& v : qkv) v = d(gen);
  for (float& v : dout) v = d(gen);
  parity::uvector<float> out[2], att[2], dqkv[2];
  parity::ScopedTarget on(parity::Target::device);
  for (int f = 0; f < 2; ++f) {
    const parity::Numerics num = f ? parity::Numerics::fast : parity::Numerics::exact;
    out[f].assign(S * T * Cl, NAN);
    att[f].assign(S * Hl * T * T, NAN);
    dqkv[f].assign(S * T * C3, NAN);
    parity::attention_forward(out[f].data(), att[f].data(), qkv.data(), S, T, Hl, hs, num);
    parity::attention_backward(dqkv[f].data(), dout.data(), qkv.data(), att[f].data(), S, T, Hl, hs, num);
  }
  auto close = [](const parity::uvector<float>& a, const parity::uvector<float>& b, const char* what) {
    double worst = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      ASSERT_TRUE(std::isfinite(b[i])) << what << " " << i;
      worst = std::max(worst, std::fabs(static_cast<double>(a[i]) - b[i]) / (1.0 + std::fabs(static_cast<double>(a[i]))));
    }
    EXPECT_LT(worst, 1e-4) << what;
  };
  close(out[0], out[1], "out");
  close(att[0], att[1], "att");
  close(dqkv[0], dqkv[1], "dqkv");
}

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  MPI_Init(&argc, &argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  const std::string why = parity::cuda::device_problem();
  if (!why.empty()) {
    std::fprintf(stderr, "parity: error: %s\n", why.c_str());
    MPI_Finalize();
    return 1;
  }
  // One GPU per rank (by world rank; one process on one GPU in the usual check).
  cudaSetDevice(rank % parity::cuda::device_count());
  if (rank == 0) std::printf("GPU: %s\n", parity::cuda::describe_device(0).c_str());
  Kokkos::initialize(argc, argv);
  const int rc = RUN_ALL_TESTS();
  Kokkos::finalize();
  MPI_Finalize();
  return rc;
}
