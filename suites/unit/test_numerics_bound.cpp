// Fast numerics (BLAS GEMM) against exact numerics, for each precision, at the same parameters and batch:
// the per-tensor relative gradient error and the loss difference must stay within the bound that
// docs/numerics.md derives (reference/numerics_bound.cpp). The bound is never widened to make this pass.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "reference/data.hpp"
#include "reference/gpt2.hpp"
#include "reference/init.hpp"
#include "reference/numerics_bound.hpp"

using namespace parity;

namespace {
void check_precision(const char* preset, Precision p) {
  const ModelConfig m = model_preset(preset);
  const long b = 4, N = b * m.T;
  auto data = make_token_source("synthetic", 1, static_cast<int>(m.V));
  std::vector<int32_t> in(N), tg(N);
  for (long r = 0; r < b; ++r) data->sequence(r, static_cast<int>(m.T), &in[r * m.T], &tg[r * m.T]);
  GPT2 exact(m, Numerics::exact, b, p), fast(m, Numerics::fast, b, p);
  const ParamLayout& L = exact.layout();
  std::vector<float> P(L.total()), ge(L.total()), gf(L.total());
  init_params(L, 1, P.data());
  round_to(p, P.data(), L.total());  // the 16-bit compute copy
  const float dloss = (p == Precision::fp16 ? 1024.0f : 1.0f) / static_cast<float>(N);  // fp16: a loss scale
  const double le = exact.forward(P.data(), in.data(), tg.data()) / N;
  exact.backward(P.data(), ge.data(), in.data(), tg.data(), dloss);
  const double lf = fast.forward(P.data(), in.data(), tg.data()) / N;
  fast.backward(P.data(), gf.data(), in.data(), tg.data(), dloss);
  const FastModeBound bound = fast_mode_bound(m, b, p);
  double worst = 0;
  std::string worst_name;
  for (const auto& t : L.tensors()) {
    double d = 0, n = 0;
    for (long i = 0; i < t.size; ++i) {
      const double x = ge[t.offset + i], y = gf[t.offset + i];
      d += (x - y) * (x - y);
      n += x * x;
    }
    const double rel = n > 0 ? std::sqrt(d / n) : (d > 0 ? INFINITY : 0.0);
    EXPECT_LE(rel, bound.grad_rel) << preset << " " << to_string(p) << ": " << t.name;
    if (rel > worst) { worst = rel; worst_name = t.name; }
  }
  const double loss_rel = std::fabs(le - lf) / le;
  EXPECT_LE(loss_rel, bound.loss_rel_step) << preset << " " << to_string(p);
  std::printf("  %-5s %-4s: worst gradient error %.3g (%s) vs bound %.3g; loss error %.3g vs bound %.3g\n", preset,
              to_string(p), worst, worst_name.c_str(), bound.grad_rel, loss_rel, bound.loss_rel_step);
}
}  // namespace

TEST(NumericsBound, FastModeWithinTheDerivedBound) {
  for (Precision p : {Precision::fp32, Precision::bf16, Precision::fp16}) check_precision("tiny", p);
}

TEST(NumericsBound, BoundGrowsWithPrecisionAndDepth) {
  const ModelConfig tiny = model_preset("tiny");
  ModelConfig deep = tiny;
  deep.L = 16;
  const double f32 = fast_mode_bound(tiny, 4, Precision::fp32).grad_rel;
  const double f16 = fast_mode_bound(tiny, 4, Precision::fp16).grad_rel;
  const double b16 = fast_mode_bound(tiny, 4, Precision::bf16).grad_rel;
  EXPECT_LT(f32, f16);
  EXPECT_LT(f16, b16);
  EXPECT_LT(b16, fast_mode_bound(deep, 4, Precision::bf16).grad_rel);
}
