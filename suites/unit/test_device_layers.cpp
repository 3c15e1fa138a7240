// The device forms of the layer kernels (LayerNorm, GELU, encoder, cross-entropy) against their host forms,
// bit for bit. In the CPU build Kokkos's default execution space is the host, so Target::device runs the
// device forms (the same code the CUDA build compiles for the GPU) here, and any difference in the order of
// operations shows up as a bit difference. Each case runs the public kernel once with Target::host and once
// with Target::device on copies of the same random inputs and compares every output with memcmp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/crossentropy.hpp"
#include "kernels/device.hpp"
#include "kernels/encoder.hpp"
#include "kernels/gelu.hpp"
#include "kernels/layernorm.hpp"

namespace parity {
namespace {

using UF = uvector<float>;
using UI = uvector<int32_t>;

using TargetGuard = ScopedTarget;  // kernels/device.hpp

UF normal(long n, uint32_t seed, float scale = 1.0f, float mean = 0.0f) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> d(mean, scale);
  UF v(n);
  for (auto& x : v) x = d(gen);
  return v;
}

UI uniform_tokens(long n, uint32_t seed, int32_t lo, int32_t hi) {  // [lo, hi)
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int32_t> d(lo, hi - 1);
  UI v(n);
  for (auto& x : v) x = d(gen);
  return v;
}

// Bitwise equality, reporting the first differing element.
void expect_same_bits(const UF& host, const UF& device, const std::string& what) {
  ASSERT_EQ(host.size(), device.size()) << what;
  if (std::memcmp(host.data(), device.data(), host.size() * sizeof(float)) == 0) return;
  for (size_t i = 0; i < host.size(); ++i) {
    uint32_t a, b;
    std::memcpy(&a, &host[i], 4);
    std::memcpy(&b, &device[i], 4);
    if (a != b) {
      ADD_FAILURE() << what << ": first difference at " << i << ": host " << host[i] << " (0x" << std::hex << a
                    << ") device " << device[i] << " (0x" << b << std::dec << ")";
      return;
    }
  }
}

// Runs f(buffers) with the host target on one copy and the device target on another, then compares every
// buffer bitwise. f gets a vector of UF by reference (inputs and outputs alike).
template <class F>
void host_vs_device(const std::vector<UF>& init, const std::string& what, F f) {
  std::vector<UF> h = init, d = init;
  {
    TargetGuard g(Target::host);
    f(h);
  }
  {
    TargetGuard g(Target::device);
    f(d);
  }
  for (size_t i = 0; i < init.size(); ++i) expect_same_bits(h[i], d[i], what + ", buffer " + std::to_string(i));
}

const Precision kPrecisions[] = {Precision::fp32, Precision::bf16, Precision::fp16};

TEST(DeviceLayers, TargetGuardRestoresHost) {
  {
    TargetGuard g(Target::device);
    EXPECT_TRUE(on_device());
  }
  EXPECT_FALSE(on_device());
}

TEST(DeviceLayers, LayerNormForward) {
  const long N = 70;
  for (long C : {70L, 96L}) {
    // A mean offset makes the variance's cancellation matter.
    std::vector<UF> init = {UF(N * C), UF(N), UF(N), normal(N * C, 1, 2.0f, 3.0f), normal(C, 2, 0.5f, 1.0f),
                            normal(C, 3, 0.2f)};
    host_vs_device(init, "layernorm_forward C=" + std::to_string(C), [&](std::vector<UF>& b) {
      layernorm_forward(b[0].data(), b[1].data(), b[2].data(), b[3].data(), b[4].data(), b[5].data(), N, C);
    });
  }
}

TEST(DeviceLayers, ResidualLayerNormForward) {
  const long N = 70;
  for (long C : {70L, 96L})
    for (Precision p : kPrecisions) {
      std::vector<UF> init = {UF(N * C),          UF(N),          UF(N),
                              normal(N * C, 4, 1.5f, 0.5f), normal(N * C, 5),  normal(C, 6, 0.3f),
                              normal(C, 7, 0.5f, 1.0f),     normal(C, 8, 0.2f)};
      host_vs_device(init, std::string("residual_layernorm_forward ") + to_string(p) + " C=" + std::to_string(C),
                     [&](std::vector<UF>& b) {
                       residual_layernorm_forward(b[0].data(), b[1].data(), b[2].data(), b[3].data(), b[4].data(),
                                                  b[5].data(), b[6].data(), b[7].data(), N, C, p);
                     });
    }
}

TEST(DeviceLayers, LayerNormBackward) {
  for (long N : {70L, 300L})
    for (long C : {70L, 96L}) {
      // mean and rstd from a host forward, so they are the values a backward really sees.
      UF out(N * C), mean(N), rstd(N);
      const UF inp = normal(N * C, 9, 2.0f, 1.0f), w = normal(C, 10, 0.5f, 1.0f), bias = normal(C, 11, 0.2f);
      layernorm_forward(out.data(), mean.data(), rstd.data(), inp.data(), w.data(), bias.data(), N, C);
      // dinp starts nonzero: the kernel accumulates into it. dweight/dbias start as garbage: overwritten.
      std::vector<UF> init = {normal(N * C, 12), normal(C, 13, 100.0f), normal(C, 14, 100.0f), normal(N * C, 15),
                              inp, w, mean, rstd};
      host_vs_device(init, "layernorm_backward N=" + std::to_string(N) + " C=" + std::to_string(C),
                     [&](std::vector<UF>& b) {
                       layernorm_backward(b[0].data(), b[1].data(), b[2].data(), b[3].data(), b[4].data(),
                                          b[5].data(), b[6].data(), b[7].data(), N, C);
                     });
    }
}

TEST(DeviceLayers, GeluForward) {
  const long n = 70 * 96 + 5;
  for (bool keep_tanh : {true, false}) {
    std::vector<UF> init = {UF(n), UF(n), normal(n, 16, 3.0f)};
    host_vs_device(init, std::string("gelu_forward tanh_out=") + (keep_tanh ? "yes" : "no"),
                   [&](std::vector<UF>& b) {
                     gelu_forward(b[0].data(), keep_tanh ? b[1].data() : nullptr, b[2].data(), n);
                   });
  }
}

TEST(DeviceLayers, BiasGeluForward) {
  const long N = 70;
  for (long O : {70L, 96L})
    for (Precision p : kPrecisions)
      for (bool keep_tanh : {true, false}) {
        std::vector<UF> init = {UF(N * O), UF(N * O), normal(N * O, 17, 2.0f), normal(O, 18, 0.5f)};
        host_vs_device(init,
                       std::string("bias_gelu_forward ") + to_string(p) + " O=" + std::to_string(O) +
                           (keep_tanh ? " tanh" : " no tanh"),
                       [&](std::vector<UF>& b) {
                         bias_gelu_forward(b[0].data(), keep_tanh ? b[1].data() : nullptr, b[2].data(), b[3].data(),
                                           N, O, p);
                       });
      }
}

TEST(DeviceLayers, GeluBackward) {
  const long n = 70 * 96 + 5;
  const UF inp = normal(n, 19, 3.0f);
  UF out(n), th(n);
  gelu_forward(out.data(), th.data(), inp.data(), n);
  for (bool with_th : {true, false}) {
    std::vector<UF> init = {normal(n, 20, 50.0f), inp, th, normal(n, 21)};
    host_vs_device(init, std::string("gelu_backward th=") + (with_th ? "yes" : "no"), [&](std::vector<UF>& b) {
      gelu_backward(b[0].data(), b[1].data(), with_th ? b[2].data() : nullptr, b[3].data(), n);
    });
  }
}

TEST(DeviceLayers, EncoderForward) {
  const long N = 70, T = 35, C = 96, V = 100;
  const UI tokens = uniform_tokens(N, 22, 0, V);
  // Whole vocabulary, and a vocab-parallel slice [40, 75) of it.
  for (const std::pair<long, long>& range : {std::pair<long, long>{0, V}, std::pair<long, long>{40, 75}})
    for (bool with_wpe : {true, false}) {
      const long lo = range.first, hi = range.second;  // (lambdas may not capture structured bindings in C++17)
      std::vector<UF> init = {normal(N * C, 23, 9.0f), normal((hi - lo) * C, 24), normal(T * C, 25)};
      host_vs_device(init,
                     "encoder_forward vocab [" + std::to_string(lo) + ", " + std::to_string(hi) + ")" +
                         (with_wpe ? " wpe" : " no wpe"),
                     [&](std::vector<UF>& b) {
                       encoder_forward(b[0].data(), tokens.data(), b[1].data(), with_wpe ? b[2].data() : nullptr, N,
                                       T, C, lo, hi);
                     });
    }
}

TEST(DeviceLayers, EncoderBackward) {
  const long T = 35, C = 70;
  // N = 70: 3 row blocks; N = 350: 11 blocks, where a token from a small vocabulary repeats across blocks and
  // is absent from some (the host prunes those subtrees, the device adds zeros).
  for (long N : {70L, 350L})
    for (long V : {100L, 7L}) {
      const UI tokens = uniform_tokens(N, 26 + static_cast<uint32_t>(N + V), 0, static_cast<int32_t>(V));
      for (const std::pair<long, long>& range : {std::pair<long, long>{0, V}, std::pair<long, long>{V / 3, V - 1}})
        for (bool with_wpe : {true, false}) {
          const long lo = range.first, hi = range.second;
          // dwte starts nonzero (the LM head's part): the kernel adds onto it. dwpe is overwritten.
          std::vector<UF> init = {normal((hi - lo) * C, 27), normal(T * C, 28, 100.0f), normal(N * C, 29)};
          host_vs_device(init,
                         "encoder_backward N=" + std::to_string(N) + " V=" + std::to_string(V) + " vocab [" +
                             std::to_string(lo) + ", " + std::to_string(hi) + ")" + (with_wpe ? " wpe" : " no wpe"),
                         [&](std::vector<UF>& b) {
                           encoder_backward(b[0].data(), with_wpe ? b[1].data() : nullptr, b[2].data(),
                                            tokens.data(), N, T, C, lo, hi);
                         });
        }
    }
}

// Vocabulary layouts: (Vl, v_lo, V). The whole padded vocabulary on one rank (V < Vl: padding), and the
// slices of tensor parallelism: a rank inside the real vocabulary, one straddling V, one all padding.
struct VocabCase {
  long Vl, v_lo, V;
};
const VocabCase kVocabCases[] = {{100, 0, 90}, {100, 0, 100}, {50, 0, 90}, {50, 50, 90}, {25, 75, 90}, {10, 90, 90}};

std::string vocab_name(const VocabCase& v) {
  return "Vl=" + std::to_string(v.Vl) + " v_lo=" + std::to_string(v.v_lo) + " V=" + std::to_string(v.V);
}

TEST(DeviceLayers, CrossEntropyForward) {
  const long N = 70;
  for (const VocabCase& vc : kVocabCases) {
    const UI targets = uniform_tokens(N, 30, 0, static_cast<int32_t>(vc.V));
    std::vector<UF> init = {normal(N, 31, 100.0f), normal(N * vc.Vl, 32, 4.0f)};
    host_vs_device(init, "crossentropy_forward " + vocab_name(vc), [&](std::vector<UF>& b) {
      crossentropy_forward(b[0].data(), b[1].data(), targets.data(), N, vc.Vl, vc.v_lo, vc.V);
    });
  }
}

// A VocabReduce whose callbacks change the row arrays, as the other ranks' contributions would: the phases
// must run in order around them (the max before the exponentials, the sums before the normalisation).
TEST(DeviceLayers, CrossEntropyForwardWithVocabReduce) {
  const long N = 70;
  const UF other_max = normal(N, 33, 3.0f, 6.0f);  // some rows' maxima are raised by "another rank"
  const UF other_sum = normal(N, 34, 1.0f, 5.0f);
  VocabReduce reduce;
  int max_calls = 0, sum_calls = 0;
  reduce.max = [&](float* x, long n) {
    ASSERT_EQ(n, N);
    ++max_calls;
    for (long i = 0; i < n; ++i) x[i] = std::max(x[i], other_max[i]);
  };
  reduce.tree_sum = [&](float* x, long n) {
    ASSERT_EQ(n, N);
    ++sum_calls;
    for (long i = 0; i < n; ++i) x[i] = x[i] + std::fabs(other_sum[i]) * static_cast<float>(sum_calls);
  };
  for (const VocabCase& vc : kVocabCases) {
    const UI targets = uniform_tokens(N, 35, 0, static_cast<int32_t>(vc.V));
    std::vector<UF> init = {normal(N, 36, 100.0f), normal(N * vc.Vl, 37, 4.0f)};
    host_vs_device(init, "crossentropy_forward with VocabReduce " + vocab_name(vc), [&](std::vector<UF>& b) {
      max_calls = sum_calls = 0;
      crossentropy_forward(b[0].data(), b[1].data(), targets.data(), N, vc.Vl, vc.v_lo, vc.V, &reduce);
      EXPECT_EQ(max_calls, 1);
      EXPECT_EQ(sum_calls, 2);  // the denominators, then the target logits
    });
  }
}

TEST(DeviceLayers, CrossEntropyBackward) {
  const long N = 70;
  for (const VocabCase& vc : kVocabCases) {
    const UI targets = uniform_tokens(N, 38, 0, static_cast<int32_t>(vc.V));
    UF probs = normal(N * vc.Vl, 39, 4.0f), losses(N);
    crossentropy_forward(losses.data(), probs.data(), targets.data(), N, vc.Vl, vc.v_lo, vc.V);
    // Garbage in the padding columns: the backward must write zeros there.
    for (long n = 0; n < N; ++n)
      for (long v = std::max(0L, vc.V - vc.v_lo); v < vc.Vl; ++v) probs[n * vc.Vl + v] = 7.0f;
    std::vector<UF> init = {probs};
    host_vs_device(init, "crossentropy_backward " + vocab_name(vc), [&](std::vector<UF>& b) {
      crossentropy_backward(b[0].data(), targets.data(), N, vc.Vl, vc.v_lo, vc.V, 1.0f / 3000.0f);
    });
  }
}

}  // namespace
}  // namespace parity
