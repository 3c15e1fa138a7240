// The GPT-2 layer kernels against independent fp64 implementations written here from the formulas in the
// headers and docs/design.md ("Model semantics"):
//   (a) forward within float rounding of the fp64 forward;
//   (b) every gradient the kernel produces within float rounding of the fp64 analytic backward, and the
//       fp64 analytic backward (hence the kernel) against central finite differences of the fp64 forward of
//       the scalar loss L = sum(out * R) for a fixed random R (in double, so the differences are accurate to
//       ~1e-8 and the comparison is a real check of the calculus, not of rounding);
//   (c) determinism: repeated calls give identical bits;
// plus the documented accumulation (`+=`) and overwrite contracts and the padded-vocabulary masking.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "kernels/adamw.hpp"
#include "kernels/attention.hpp"
#include "kernels/vmath.hpp"
#include "kernels/canonical.hpp"
#include "kernels/crossentropy.hpp"
#include "kernels/encoder.hpp"
#include "kernels/gelu.hpp"
#include "kernels/layernorm.hpp"
#include "kernels/linear.hpp"

namespace parity {
namespace {

using VecF = std::vector<float>;
using VecD = std::vector<double>;

VecF normal(long n, uint32_t seed, float scale = 1.0f, float mean = 0.0f) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> d(mean, scale);
  VecF v(n);
  for (float& x : v) x = d(gen);
  return v;
}

VecF uniform(long n, uint32_t seed, float lo, float hi) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  VecF v(n);
  for (float& x : v) x = d(gen);
  return v;
}

VecD to_d(const VecF& v) { return VecD(v.begin(), v.end()); }

double max_abs(const VecD& v) {
  double m = 0.0;
  for (double x : v) m = std::max(m, std::fabs(x));
  return m;
}

bool same_bits(const VecF& a, const VecF& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

bool all_finite(const VecF& v) {
  for (float x : v)
    if (!std::isfinite(x)) return false;
  return true;
}

// |got - ref| <= rtol * |ref| + atol for every element; reports the first few failures and the worst one.
void expect_close(const std::string& what, const float* got, const double* ref, long n, double rtol, double atol) {
  long bad = 0, worst_i = -1;
  double worst = 0.0;
  for (long i = 0; i < n; ++i) {
    const double err = std::fabs(static_cast<double>(got[i]) - ref[i]);
    const double tol = rtol * std::fabs(ref[i]) + atol;
    if (!(err <= tol)) {
      if (bad < 5)
        ADD_FAILURE() << what << "[" << i << "]: got " << got[i] << " want " << ref[i] << " err " << err
                      << " tol " << tol;
      ++bad;
    }
    if (!(err / tol <= worst)) {
      worst = err / tol;
      worst_i = i;
    }
  }
  EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << n << " outside tolerance; worst err/tol " << worst
                    << " at " << worst_i;
}
// Per-element absolute tolerance (for results of sums whose terms may cancel: scale = sum of |terms|).
void expect_within(const std::string& what, const VecF& got, const VecD& ref, const VecD& tol) {
  ASSERT_EQ(got.size(), ref.size()) << what;
  long bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::fabs(static_cast<double>(got[i]) - ref[i]);
    if (!(err <= tol[i])) {
      if (bad < 5)
        ADD_FAILURE() << what << "[" << i << "]: got " << got[i] << " want " << ref[i] << " err " << err
                      << " tol " << tol[i];
      ++bad;
    }
  }
  EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << got.size() << " outside tolerance";
}
void expect_close(const std::string& what, const VecF& got, const VecD& ref, double rtol, double atol) {
  ASSERT_EQ(got.size(), ref.size()) << what;
  expect_close(what, got.data(), ref.data(), static_cast<long>(got.size()), rtol, atol);
}
void expect_close_d(const std::string& what, const VecD& got, const VecD& ref, double rtol, double atol) {
  ASSERT_EQ(got.size(), ref.size()) << what;
  long bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::fabs(got[i] - ref[i]), tol = rtol * std::fabs(ref[i]) + atol;
    if (!(err <= tol)) {
      if (bad < 5) ADD_FAILURE() << what << "[" << i << "]: got " << got[i] << " want " << ref[i];
      ++bad;
    }
  }
  EXPECT_EQ(bad, 0) << what;
}

// Central difference of the fp64 loss f with respect to xi, a variable f reads (restored afterwards).
double central_diff(const std::function<double()>& f, double& xi, double h) {
  const double x0 = xi;
  xi = x0 + h;
  const double fp = f();
  xi = x0 - h;
  const double fm = f();
  xi = x0;
  return (fp - fm) / (2.0 * h);
}

// Finite differences of f at the listed elements of x (f reads x); relative step h.
VecD finite_diffs(const std::function<double()>& f, VecD& x, const std::vector<long>& idx, double h = 1e-5) {
  VecD fd(idx.size());
  for (size_t k = 0; k < idx.size(); ++k) fd[k] = central_diff(f, x[idx[k]], h * std::max(1.0, std::fabs(x[idx[k]])));
  return fd;
}

std::vector<long> all_indices(long n) {
  std::vector<long> v(n);
  for (long i = 0; i < n; ++i) v[i] = i;
  return v;
}

std::vector<long> sample_indices(long n, long k, uint32_t seed, std::vector<long> must = {}) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<long> d(0, n - 1);
  std::vector<long> v = std::move(must);
  while (static_cast<long>(v.size()) < k) v.push_back(d(gen));
  return v;
}

template <class T>
std::vector<T> gather(const std::vector<T>& v, const std::vector<long>& idx) {
  std::vector<T> out(idx.size());
  for (size_t k = 0; k < idx.size(); ++k) out[k] = v[idx[k]];
  return out;
}

// The gradient a kernel produced vs the finite differences (both at the listed elements).
void expect_matches_fd(const std::string& what, const VecF& grad, const VecD& fd, const std::vector<long>& idx,
                       double rtol, double atol) {
  const VecF g = gather(grad, idx);
  expect_close(what + " vs finite differences", g, fd, rtol, atol);
}

// =========================================================================================================
// Encoder
// =========================================================================================================

struct EncoderCase {
  long S = 9, T = 37, C = 32, V = 10;  // N = 333 rows: 11 row blocks (uneven tree), the last one partial
  long N() const { return S * T; }
  std::vector<int32_t> tokens;
  VecF wte, wpe;
  EncoderCase() {
    // Many repeats; token 7 never occurs (its gradient row must stay untouched).
    std::mt19937 gen(3);
    std::uniform_int_distribution<int> d(0, static_cast<int>(V) - 2);
    tokens.resize(N());
    for (auto& t : tokens) {
      t = d(gen);
      if (t >= 7) ++t;
    }
    tokens[0] = 0;
    tokens[N() - 1] = static_cast<int32_t>(V - 1);
    wte = normal(V * C, 11);
    wpe = normal(T * C, 12);
  }
};

VecD encoder_ref(const EncoderCase& e, const VecD& wte, const VecD& wpe) {
  VecD out(e.N() * e.C);
  for (long n = 0; n < e.N(); ++n)
    for (long c = 0; c < e.C; ++c) out[n * e.C + c] = wte[e.tokens[n] * e.C + c] + wpe[(n % e.T) * e.C + c];
  return out;
}

TEST(Layer, EncoderForward) {
  EncoderCase e;
  const long N = e.N(), C = e.C;
  VecF out(N * C, std::nanf(""));
  encoder_forward(out.data(), e.tokens.data(), e.wte.data(), e.wpe.data(), N, e.T, C, 0, e.V);
  expect_close("encoder out", out, encoder_ref(e, to_d(e.wte), to_d(e.wpe)), 1e-6, 0.0);
  for (long n = 0; n < N; ++n)  // one float add, so exactly wte + wpe
    for (long c = 0; c < C; ++c)
      ASSERT_EQ(out[n * C + c], e.wte[e.tokens[n] * C + c] + e.wpe[(n % e.T) * C + c]);
  VecF again(N * C);
  encoder_forward(again.data(), e.tokens.data(), e.wte.data(), e.wpe.data(), N, e.T, C, 0, e.V);
  EXPECT_TRUE(same_bits(out, again));

  // Vocab-parallel slice [3, 7): rows outside contribute 0 (then only wpe); wpe null: only the token part.
  const long lo = 3, hi = 7;
  VecF part(N * C), tok_only(N * C);
  encoder_forward(part.data(), e.tokens.data(), e.wte.data() + lo * C, e.wpe.data(), N, e.T, C, lo, hi);
  encoder_forward(tok_only.data(), e.tokens.data(), e.wte.data() + lo * C, nullptr, N, e.T, C, lo, hi);
  for (long n = 0; n < N; ++n) {
    const bool mine = e.tokens[n] >= lo && e.tokens[n] < hi;
    for (long c = 0; c < C; ++c) {
      const float w = mine ? e.wte[e.tokens[n] * C + c] : 0.0f;
      ASSERT_EQ(part[n * C + c], w + e.wpe[(n % e.T) * C + c]) << n;
      ASSERT_EQ(tok_only[n * C + c], w) << n;
    }
  }
}

TEST(Layer, EncoderBackward) {
  EncoderCase e;
  const long N = e.N(), C = e.C, T = e.T, S = e.S, V = e.V;
  const VecF dout = normal(N * C, 21);
  const VecF w0 = normal(V * C, 22);  // what the LM head already wrote into dwte
  VecF dwte = w0, dwpe(T * C, std::nanf(""));
  encoder_backward(dwte.data(), dwpe.data(), dout.data(), e.tokens.data(), N, T, C, 0, V);

  // fp64 analytic: dwte = w0 + sum of dout over rows with that token; dwpe = sum over sequences.
  VecD dwte_ref = to_d(w0), dwpe_ref(T * C, 0.0), token_part(V * C, 0.0);
  for (long n = 0; n < N; ++n)
    for (long c = 0; c < C; ++c) {
      token_part[e.tokens[n] * C + c] += dout[n * C + c];
      dwpe_ref[(n % T) * C + c] += dout[n * C + c];
    }
  for (long i = 0; i < V * C; ++i) dwte_ref[i] += token_part[i];
  expect_close("dwte", dwte, dwte_ref, 1e-5, 1e-5 * max_abs(dwte_ref));
  expect_close("dwpe", dwpe, dwpe_ref, 1e-5, 1e-5 * max_abs(dwpe_ref));

  // Finite differences of L = sum(out * dout) through the fp64 forward, for every element of wte and wpe.
  VecD wte_d = to_d(e.wte), wpe_d = to_d(e.wpe);
  const VecD R = to_d(dout);
  auto loss = [&] {
    const VecD out = encoder_ref(e, wte_d, wpe_d);
    double L = 0.0;
    for (long i = 0; i < N * C; ++i) L += out[i] * R[i];
    return L;
  };
  const VecD fd_wte = finite_diffs(loss, wte_d, all_indices(V * C));
  const VecD fd_wpe = finite_diffs(loss, wpe_d, all_indices(T * C));
  VecF token_grad(V * C);  // the kernel's token part, exactly: the += is a single add onto w0
  for (long i = 0; i < V * C; ++i) token_grad[i] = dwte[i] - w0[i];
  expect_close("dwte token part vs finite differences", token_grad, fd_wte, 1e-5, 1e-6);
  expect_close("dwpe vs finite differences", dwpe, fd_wpe, 1e-5, 1e-5);

  // Canonical order, bit for bit: dwte[v] = w0[v] + (canonical sum over all rows of [tok == v] * dout), the
  // rows of other tokens being zero leaves; dwpe[t] = canonical sum over sequences.
  for (long v = 0; v < V; ++v) {
    VecF sum(C);
    column_sums_of(N, C, sum.data(), [&](long n, long c) { return e.tokens[n] == v ? dout[n * C + c] : 0.0f; });
    for (long c = 0; c < C; ++c) ASSERT_EQ(dwte[v * C + c], w0[v * C + c] + sum[c]) << "v=" << v << " c=" << c;
  }
  for (long c = 0; c < C; ++c) EXPECT_EQ(dwte[7 * C + c], w0[7 * C + c]) << "absent token row must be untouched";
  for (long t = 0; t < T; ++t) {
    VecF sum(C);
    column_sums(dout.data() + t * C, S, C, T * C, sum.data());
    for (long c = 0; c < C; ++c) ASSERT_EQ(dwpe[t * C + c], sum[c]);
  }

  // Determinism, and dwpe == nullptr skips the position part without changing dwte.
  VecF dwte2 = w0, dwpe2(T * C);
  encoder_backward(dwte2.data(), dwpe2.data(), dout.data(), e.tokens.data(), N, T, C, 0, V);
  EXPECT_TRUE(same_bits(dwte, dwte2));
  EXPECT_TRUE(same_bits(dwpe, dwpe2));
  VecF dwte3 = w0;
  encoder_backward(dwte3.data(), nullptr, dout.data(), e.tokens.data(), N, T, C, 0, V);
  EXPECT_TRUE(same_bits(dwte, dwte3));

  // Vocab-parallel slice [3, 7): the slice's rows get the same bits as in the full run.
  const long lo = 3, hi = 7;
  VecF slice(w0.begin() + lo * C, w0.begin() + hi * C);
  encoder_backward(slice.data(), nullptr, dout.data(), e.tokens.data(), N, T, C, lo, hi);
  EXPECT_TRUE(same_bits(slice, VecF(dwte.begin() + lo * C, dwte.begin() + hi * C)));
}

// =========================================================================================================
// LayerNorm
// =========================================================================================================

struct LnRef {
  VecD out, mean, rstd;
};

void layernorm_ref_row(const double* x, const double* w, const double* b, long C, double* out, double& mean,
                       double& rstd) {
  double m = 0.0;
  for (long c = 0; c < C; ++c) m += x[c];
  m /= C;
  double var = 0.0;
  for (long c = 0; c < C; ++c) var += (x[c] - m) * (x[c] - m);
  var /= C;
  const double s = 1.0 / std::sqrt(var + 1e-5);
  for (long c = 0; c < C; ++c) out[c] = (x[c] - m) * s * w[c] + b[c];
  mean = m;
  rstd = s;
}

LnRef layernorm_ref(const VecD& x, const VecD& w, const VecD& b, long N, long C) {
  LnRef r{VecD(N * C), VecD(N), VecD(N)};
  for (long n = 0; n < N; ++n)
    layernorm_ref_row(x.data() + n * C, w.data(), b.data(), C, r.out.data() + n * C, r.mean[n], r.rstd[n]);
  return r;
}

TEST(Layer, LayerNormForwardAndBackward) {
  const long N = 70, C = 64;  // 3 row blocks (last partial), 2 channel blocks
  VecF x = normal(N * C, 31, 1.5f);
  const VecF offs = normal(N, 32, 2.0f);
  for (long n = 0; n < N; ++n)
    for (long c = 0; c < C; ++c) x[n * C + c] += offs[n];  // rows with nonzero means
  for (long c = 0; c < C; ++c) x[c] = 0.3f + 0.01f * x[c];  // row 0: variance ~2e-4, where eps matters
  const VecF w = normal(C, 33, 0.3f, 1.0f), b = normal(C, 34, 0.3f);

  // (a) forward
  VecF out(N * C, std::nanf("")), mean(N, std::nanf("")), rstd(N, std::nanf(""));
  layernorm_forward(out.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), N, C);
  const LnRef ref = layernorm_ref(to_d(x), to_d(w), to_d(b), N, C);
  expect_close("ln out", out, ref.out, 1e-5, 1e-5 * max_abs(ref.out));
  expect_close("ln mean", mean, ref.mean, 1e-5, 1e-6 * max_abs(ref.mean));
  expect_close("ln rstd", rstd, ref.rstd, 1e-5, 0.0);

  // (b) backward. dinp accumulates onto what is there (one add); dweight, dbias are overwritten.
  const VecF dout = normal(N * C, 35);
  const VecF d0 = normal(N * C, 36);
  VecF dinp = d0, dw(C, std::nanf("")), db(C, std::nanf(""));
  layernorm_backward(dinp.data(), dw.data(), db.data(), dout.data(), x.data(), w.data(), mean.data(), rstd.data(),
                     N, C);
  VecF dx(N * C, 0.0f), dw2(C, std::nanf("")), db2(C, std::nanf(""));
  layernorm_backward(dx.data(), dw2.data(), db2.data(), dout.data(), x.data(), w.data(), mean.data(), rstd.data(),
                     N, C);
  for (long i = 0; i < N * C; ++i) ASSERT_EQ(dinp[i], d0[i] + dx[i]) << "dinp must be dinp + dx, one add, at " << i;
  EXPECT_TRUE(same_bits(dw, dw2)) << "dweight is overwritten, and deterministic";
  EXPECT_TRUE(same_bits(db, db2)) << "dbias is overwritten, and deterministic";

  // fp64 analytic backward.
  VecD dx_ref(N * C), dw_ref(C, 0.0), db_ref(C, 0.0);
  for (long n = 0; n < N; ++n) {
    const double m = ref.mean[n], s = ref.rstd[n];
    VecD norm(C), dnorm(C);
    double mean_dn = 0.0, mean_dnn = 0.0;
    for (long c = 0; c < C; ++c) {
      norm[c] = (x[n * C + c] - m) * s;
      dnorm[c] = dout[n * C + c] * static_cast<double>(w[c]);
      mean_dn += dnorm[c] / C;
      mean_dnn += dnorm[c] * norm[c] / C;
      dw_ref[c] += dout[n * C + c] * norm[c];
      db_ref[c] += dout[n * C + c];
    }
    for (long c = 0; c < C; ++c) dx_ref[n * C + c] = (dnorm[c] - mean_dn - norm[c] * mean_dnn) * s;
  }
  expect_close("ln dinp", dx, dx_ref, 1e-5, 1e-5 * max_abs(dx_ref));
  expect_close("ln dweight", dw, dw_ref, 1e-5, 1e-5 * max_abs(dw_ref));
  expect_close("ln dbias", db, db_ref, 1e-5, 1e-6 * max_abs(db_ref));
  VecF db_canon(C);
  column_sums(dout.data(), N, C, C, db_canon.data());
  EXPECT_TRUE(same_bits(db, db_canon)) << "dbias is the canonical column sum of dout";

  // Finite differences of L = sum(out * dout) through the fp64 forward: every element of x, w and b.
  VecD xd = to_d(x), wd = to_d(w), bd = to_d(b);
  const VecD R = to_d(dout);
  long row = 0;  // x perturbations only change their own row
  auto row_loss = [&] {
    VecD o(C);
    double mm, ss;
    layernorm_ref_row(xd.data() + row * C, wd.data(), bd.data(), C, o.data(), mm, ss);
    double L = 0.0;
    for (long c = 0; c < C; ++c) L += o[c] * R[row * C + c];
    return L;
  };
  VecD fd_x(N * C);
  for (row = 0; row < N; ++row)
    for (long c = 0; c < C; ++c) fd_x[row * C + c] = central_diff(row_loss, xd[row * C + c], 1e-5 * std::max(1.0, std::fabs(xd[row * C + c])));
  auto loss = [&] {
    const LnRef r = layernorm_ref(xd, wd, bd, N, C);
    double L = 0.0;
    for (long i = 0; i < N * C; ++i) L += r.out[i] * R[i];
    return L;
  };
  const VecD fd_w = finite_diffs(loss, wd, all_indices(C));
  const VecD fd_b = finite_diffs(loss, bd, all_indices(C));
  expect_close_d("fp64 ln dinp vs finite differences", dx_ref, fd_x, 1e-6, 1e-7 * max_abs(fd_x));
  expect_close("ln dinp vs finite differences", dx, fd_x, 1e-5, 1e-5 * max_abs(fd_x));
  expect_close("ln dweight vs finite differences", dw, fd_w, 1e-5, 1e-5 * max_abs(fd_w));
  expect_close("ln dbias vs finite differences", db, fd_b, 1e-5, 1e-6 * max_abs(fd_b));

  // (c) determinism of the forward.
  VecF out2(N * C), mean2(N), rstd2(N);
  layernorm_forward(out2.data(), mean2.data(), rstd2.data(), x.data(), w.data(), b.data(), N, C);
  EXPECT_TRUE(same_bits(out, out2) && same_bits(mean, mean2) && same_bits(rstd, rstd2));
}

// =========================================================================================================
// Attention (head-interleaved qkv: head h has q at h*3hs, k at h*3hs + hs, v at h*3hs + 2hs)
// =========================================================================================================

struct AttnShape {
  long S, T, Hl, hs;
  long N() const { return S * T; }
  long C3() const { return Hl * 3 * hs; }
  long Cl() const { return Hl * hs; }
};

// fp64 forward of one (sequence, head): out[t, d] (T x hs) and att[t, t2] (T x T).
void attention_ref_head(const AttnShape& a, const VecD& qkv, long s, long h, double* out, double* att) {
  const long T = a.T, hs = a.hs, C3 = a.C3();
  const double scale = 1.0 / std::sqrt(static_cast<double>(hs));
  auto q = [&](long t) { return qkv.data() + (s * T + t) * C3 + h * 3 * hs; };
  VecD sc(T);
  for (long t = 0; t < T; ++t) {
    double mx = -INFINITY;
    for (long t2 = 0; t2 <= t; ++t2) {
      double d = 0.0;
      for (long i = 0; i < hs; ++i) d += q(t)[i] * q(t2)[hs + i];
      sc[t2] = d * scale;
      mx = std::max(mx, sc[t2]);
    }
    double sum = 0.0;
    for (long t2 = 0; t2 <= t; ++t2) sum += std::exp(sc[t2] - mx);
    for (long t2 = 0; t2 < T; ++t2) att[t * T + t2] = t2 <= t ? std::exp(sc[t2] - mx) / sum : 0.0;
    for (long i = 0; i < hs; ++i) {
      double o = 0.0;
      for (long t2 = 0; t2 <= t; ++t2) o += att[t * T + t2] * q(t2)[2 * hs + i];
      out[t * hs + i] = o;
    }
  }
}

struct AttnRef {
  VecD out, att;
};

AttnRef attention_ref(const AttnShape& a, const VecD& qkv) {
  const long T = a.T, hs = a.hs;
  AttnRef r{VecD(a.N() * a.Cl()), VecD(a.S * a.Hl * T * T)};
  VecD o(T * hs);
  for (long s = 0; s < a.S; ++s)
    for (long h = 0; h < a.Hl; ++h) {
      attention_ref_head(a, qkv, s, h, o.data(), r.att.data() + (s * a.Hl + h) * T * T);
      for (long t = 0; t < T; ++t)
        for (long i = 0; i < hs; ++i) r.out[(s * T + t) * a.Cl() + h * hs + i] = o[t * hs + i];
    }
  return r;
}

// fp64 analytic backward: dqkv from dout.
VecD attention_ref_backward(const AttnShape& a, const VecD& qkv, const AttnRef& fw, const VecD& dout) {
  const long T = a.T, hs = a.hs, C3 = a.C3(), Cl = a.Cl();
  const double scale = 1.0 / std::sqrt(static_cast<double>(hs));
  VecD dqkv(a.N() * C3, 0.0);
  for (long s = 0; s < a.S; ++s)
    for (long h = 0; h < a.Hl; ++h) {
      const double* A = fw.att.data() + (s * a.Hl + h) * T * T;
      auto row = [&](long t) { return (s * T + t) * C3 + h * 3 * hs; };
      auto drow = [&](long t) { return dout.data() + (s * T + t) * Cl + h * hs; };
      for (long t = 0; t < T; ++t) {
        VecD datt(t + 1);
        double dot = 0.0;
        for (long t2 = 0; t2 <= t; ++t2) {
          double d = 0.0;
          for (long i = 0; i < hs; ++i) {
            d += drow(t)[i] * qkv[row(t2) + 2 * hs + i];
            dqkv[row(t2) + 2 * hs + i] += A[t * T + t2] * drow(t)[i];  // dv
          }
          datt[t2] = d;
          dot += A[t * T + t2] * d;
        }
        for (long t2 = 0; t2 <= t; ++t2) {
          const double dpre = A[t * T + t2] * (datt[t2] - dot) * scale;
          for (long i = 0; i < hs; ++i) {
            dqkv[row(t) + i] += dpre * qkv[row(t2) + hs + i];   // dq
            dqkv[row(t2) + hs + i] += dpre * qkv[row(t) + i];   // dk
          }
        }
      }
    }
  return dqkv;
}

void check_attention(long T, Numerics num = Numerics::exact) {
  const AttnShape a{2, T, 2, 32};
  const long N = a.N(), C3 = a.C3(), Cl = a.Cl(), hs = a.hs;
  SCOPED_TRACE("T=" + std::to_string(T));
  const VecF qkv = normal(N * C3, 41 + T);

  // (a) forward; att is fully written (zeros above the diagonal).
  VecF out(N * Cl, std::nanf("")), att(a.S * a.Hl * T * T, std::nanf(""));
  attention_forward(out.data(), att.data(), qkv.data(), a.S, T, a.Hl, hs, num);
  const VecD qkv_d = to_d(qkv);
  const AttnRef ref = attention_ref(a, qkv_d);
  expect_close("attention out", out, ref.out, 1e-5, 1e-5 * max_abs(ref.out));
  expect_close("attention att", att, ref.att, 1e-5, 1e-6);
  for (long sh = 0; sh < a.S * a.Hl; ++sh)
    for (long t = 0; t < T; ++t)
      for (long t2 = t + 1; t2 < T; ++t2) ASSERT_EQ(att[(sh * T + t) * T + t2], 0.0f);

  // (b) backward: every element of dqkv (q, k and v parts) against the fp64 analytic backward ...
  const VecF dout = normal(N * Cl, 42 + T);
  VecF dqkv(N * C3, std::nanf(""));
  attention_backward(dqkv.data(), dout.data(), qkv.data(), att.data(), a.S, T, a.Hl, hs, num);
  ASSERT_TRUE(all_finite(dqkv)) << "dqkv must be fully overwritten";
  const VecD dref = attention_ref_backward(a, qkv_d, ref, to_d(dout));
  expect_close("attention dqkv", dqkv, dref, 1e-5, 1e-5 * max_abs(dref));

  // ... and against finite differences of L = sum(out * dout) through the fp64 forward, on a sample that
  // covers q, k and v of both heads and both sequences, the first and last positions and the block edges.
  std::vector<long> must;
  for (long s = 0; s < a.S; ++s)
    for (long t : {0L, 1L, 31L, 32L, T - 1})
      for (long h = 0; h < a.Hl; ++h)
        for (long part = 0; part < 3; ++part) must.push_back((s * T + t) * C3 + h * 3 * hs + part * hs + (t % hs));
  const std::vector<long> idx = sample_indices(N * C3, static_cast<long>(must.size()) + 150, 43 + T, must);
  VecD x = qkv_d;
  const VecD R = to_d(dout);
  long cur_s = 0, cur_h = 0;
  VecD o(T * hs), at(T * T);
  auto head_loss = [&] {  // a perturbation of qkv changes only its own (sequence, head)
    attention_ref_head(a, x, cur_s, cur_h, o.data(), at.data());
    double L = 0.0;
    for (long t = 0; t < T; ++t)
      for (long i = 0; i < hs; ++i) L += o[t * hs + i] * R[(cur_s * T + t) * Cl + cur_h * hs + i];
    return L;
  };
  VecD fd(idx.size());
  for (size_t k = 0; k < idx.size(); ++k) {
    cur_s = idx[k] / C3 / T;
    cur_h = (idx[k] % C3) / (3 * hs);
    fd[k] = central_diff(head_loss, x[idx[k]], 1e-5);
  }
  expect_close_d("fp64 attention dqkv vs finite differences", gather(dref, idx), fd, 1e-6, 1e-7 * max_abs(fd));
  expect_matches_fd("attention dqkv", dqkv, fd, idx, 1e-5, 1e-5 * max_abs(dref));

  // (c) determinism.
  VecF out2(N * Cl), att2(att.size()), dqkv2(N * C3);
  attention_forward(out2.data(), att2.data(), qkv.data(), a.S, T, a.Hl, hs, num);
  attention_backward(dqkv2.data(), dout.data(), qkv.data(), att.data(), a.S, T, a.Hl, hs, num);
  EXPECT_TRUE(same_bits(out, out2) && same_bits(att, att2) && same_bits(dqkv, dqkv2));
}

TEST(Layer, AttentionT37) { check_attention(37); }
TEST(Layer, AttentionT70) { check_attention(70); }
TEST(Layer, AttentionFastT37) { check_attention(37, Numerics::fast); }
TEST(Layer, AttentionFastT70) { check_attention(70, Numerics::fast); }

// Exact attention runs as GEMMs over row blocks (with zero terms past the diagonal); its bits must be those
// of the definition written term by term: every sum a canonical_dot over exactly the terms the model names.
TEST(Layer, AttentionExactIsTheTermByTermCanonicalForm) {
  const long S = 1, T = 70, Hl = 2, hs = 32, N = S * T, C3 = Hl * 3 * hs, Cl = Hl * hs;
  const VecF qkv = normal(N * C3, 61), dout = normal(N * Cl, 62);
  VecF out(N * Cl), att(S * Hl * T * T), dqkv(N * C3);
  attention_forward(out.data(), att.data(), qkv.data(), S, T, Hl, hs);
  attention_backward(dqkv.data(), dout.data(), qkv.data(), att.data(), S, T, Hl, hs);
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  for (long h = 0; h < Hl; ++h) {
    const float* q = qkv.data() + h * 3 * hs;  // row t at q + t * C3; k at + hs, v at + 2 hs
    const float* go = dout.data() + h * hs;
    VecF A(T * T, 0.0f), D(T * T, 0.0f);
    for (long t = 0; t < T; ++t) {
      float* a = A.data() + t * T;
      for (long t2 = 0; t2 <= t; ++t2) a[t2] = canonical_dot(q + t * C3, q + t2 * C3 + hs, hs) * scale;
      const float mx = *std::max_element(a, a + t + 1);
      for (long t2 = 0; t2 <= t; ++t2) a[t2] = parity::vm::exp(a[t2] - mx);
      const float inv = 1.0f / canonical_sum(a, t + 1);
      for (long t2 = 0; t2 <= t; ++t2) a[t2] = a[t2] * inv;
      float* d = D.data() + t * T;
      for (long t2 = 0; t2 <= t; ++t2) d[t2] = canonical_dot(go + t * Cl, q + t2 * C3 + 2 * hs, hs);
      const float dot = canonical_dot(a, d, t + 1);
      for (long t2 = 0; t2 <= t; ++t2) d[t2] = (a[t2] * (d[t2] - dot)) * scale;
    }
    for (long t = 0; t < T; ++t)
      for (long i = 0; i < hs; ++i) {
        ASSERT_EQ(att[(h * T + t) * T + i % (t + 1)], A[t * T + i % (t + 1)]);
        ASSERT_EQ(out[t * Cl + h * hs + i], canonical_dot(A.data() + t * T, q + 2 * hs + i, t + 1, 1, C3));
        ASSERT_EQ(dqkv[t * C3 + h * 3 * hs + i], canonical_dot(D.data() + t * T, q + hs + i, t + 1, 1, C3)) << t;
        ASSERT_EQ(dqkv[t * C3 + h * 3 * hs + hs + i], canonical_dot(D.data() + t, q + i, T, T, C3)) << t;
        ASSERT_EQ(dqkv[t * C3 + h * 3 * hs + 2 * hs + i], canonical_dot(A.data() + t, go + i, T, T, Cl)) << t;
      }
  }
}

// The heads are independent units: the first head computed alone (Hl = 1 on its own qkv slice, as a tensor
// parallel rank would) gives the same bits as inside the two-head call.
TEST(Layer, AttentionHeadSliceMatchesFullCall) {
  const long S = 2, T = 37, Hl = 2, hs = 32, N = S * T, C3 = Hl * 3 * hs, Cl = Hl * hs;
  const VecF qkv = normal(N * C3, 51), dout = normal(N * Cl, 52);
  VecF out(N * Cl), att(S * Hl * T * T), dqkv(N * C3);
  attention_forward(out.data(), att.data(), qkv.data(), S, T, Hl, hs);
  attention_backward(dqkv.data(), dout.data(), qkv.data(), att.data(), S, T, Hl, hs);
  for (long h = 0; h < Hl; ++h) {
    VecF q1(N * 3 * hs), d1(N * hs);
    for (long n = 0; n < N; ++n) {
      std::copy_n(qkv.begin() + n * C3 + h * 3 * hs, 3 * hs, q1.begin() + n * 3 * hs);
      std::copy_n(dout.begin() + n * Cl + h * hs, hs, d1.begin() + n * hs);
    }
    VecF o1(N * hs), a1(S * T * T), dq1(N * 3 * hs);
    attention_forward(o1.data(), a1.data(), q1.data(), S, T, 1, hs);
    attention_backward(dq1.data(), d1.data(), q1.data(), a1.data(), S, T, 1, hs);
    for (long n = 0; n < N; ++n) {
      for (long i = 0; i < hs; ++i) ASSERT_EQ(o1[n * hs + i], out[n * Cl + h * hs + i]);
      for (long i = 0; i < 3 * hs; ++i) ASSERT_EQ(dq1[n * 3 * hs + i], dqkv[n * C3 + h * 3 * hs + i]);
    }
  }
}

// =========================================================================================================
// GELU (tanh approximation)
// =========================================================================================================

double gelu_ref(double x) {
  const double k = std::sqrt(2.0 / 3.14159265358979323846);
  return 0.5 * x * (1.0 + std::tanh(k * (x + 0.044715 * x * x * x)));
}
double gelu_grad_ref(double x) {
  const double k = std::sqrt(2.0 / 3.14159265358979323846), u = k * (x + 0.044715 * x * x * x), t = std::tanh(u);
  return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * k * (1.0 + 3.0 * 0.044715 * x * x);
}

TEST(Layer, Gelu) {
  const long n = 5000;  // more than one 4096-element chunk
  const VecF x = uniform(n, 61, -6.0f, 6.0f), dout = normal(n, 62);
  VecF y(n, std::nanf("")), dx(n, std::nanf(""));
  gelu_forward(y.data(), nullptr, x.data(), n);
  VecD yref(n), gref(n), fd(n);
  VecD xd = to_d(x);
  for (long i = 0; i < n; ++i) {
    yref[i] = gelu_ref(xd[i]);
    gref[i] = dout[i] * gelu_grad_ref(xd[i]);
    // Elementwise: the finite difference of L = sum(gelu(x) * dout) at x_i involves only element i.
    const double h = 1e-5;
    fd[i] = dout[i] * (gelu_ref(xd[i] + h) - gelu_ref(xd[i] - h)) / (2 * h);
  }
  // Absolute floor: for x << 0, 1 + tanh(.) cancels in float (error ~ |x| * 2^-24).
  expect_close("gelu out", y, yref, 1e-5, 1e-6);
  gelu_backward(dx.data(), x.data(), nullptr, dout.data(), n);
  expect_close_d("fp64 gelu grad vs finite differences", gref, fd, 1e-7, 1e-9);
  expect_close("gelu dinp", dx, gref, 1e-5, 2e-6);
  expect_close("gelu dinp vs finite differences", dx, fd, 1e-5, 2e-6);
  // The backward from the forward's stored tanh gives the same bits as recomputing it.
  VecF y2(n), dx2(n), th(n);
  gelu_forward(y2.data(), th.data(), x.data(), n);
  gelu_backward(dx2.data(), x.data(), th.data(), dout.data(), n);
  EXPECT_TRUE(same_bits(y, y2) && same_bits(dx, dx2));
}

// =========================================================================================================
// Cross-entropy over a padded vocabulary
// =========================================================================================================

struct CeCase {
  long N = 40, V = 300, Vp = 512;
  VecF logits;
  std::vector<int32_t> targets;
  CeCase() {
    logits = normal(N * Vp, 71, 3.0f);
    for (long n = 0; n < N; ++n)
      for (long v = V; v < Vp; ++v) logits[n * Vp + v] = 1e4f;  // would dominate the softmax if not masked
    std::mt19937 gen(72);
    std::uniform_int_distribution<int> d(0, static_cast<int>(V) - 1);
    targets.resize(N);
    for (auto& t : targets) t = d(gen);
    targets[0] = 0;
    targets[1] = static_cast<int32_t>(V - 1);
  }
};

// fp64 softmax over the V real columns of one row and the loss -log p[target].
double ce_ref_row(const double* l, long V, int32_t target, double* p) {
  double mx = -INFINITY;
  for (long v = 0; v < V; ++v) mx = std::max(mx, l[v]);
  double sum = 0.0;
  for (long v = 0; v < V; ++v) sum += std::exp(l[v] - mx);
  if (p)
    for (long v = 0; v < V; ++v) p[v] = std::exp(l[v] - mx) / sum;
  return std::log(sum) - (l[target] - mx);
}

TEST(Layer, CrossEntropyPaddedVocabulary) {
  CeCase e;
  const long N = e.N, V = e.V, Vp = e.Vp;
  VecF probs = e.logits, losses(N, std::nanf(""));
  crossentropy_forward(losses.data(), probs.data(), e.targets.data(), N, Vp, 0, V);

  const VecD ld = to_d(e.logits);
  VecD pref(N * Vp, 0.0), lref(N), neglogp(N);
  for (long n = 0; n < N; ++n) {
    lref[n] = ce_ref_row(ld.data() + n * Vp, V, e.targets[n], pref.data() + n * Vp);
    neglogp[n] = -std::log(pref[n * Vp + e.targets[n]]);
  }
  expect_close("ce losses", losses, lref, 1e-5, 1e-6);
  expect_close("ce losses = -log softmax(target)", losses, neglogp, 1e-5, 1e-6);
  expect_close("ce probs", probs, pref, 1e-5, 1e-9);
  for (long n = 0; n < N; ++n)
    for (long v = V; v < Vp; ++v) {
      const float p = probs[n * Vp + v];
      ASSERT_TRUE(p == 0.0f && !std::signbit(p)) << "padded prob must be +0 at n=" << n << " v=" << v;
    }

  // Backward: dlogits = (p - onehot) * dloss, padding exactly 0.
  const float dloss = 1.0f / static_cast<float>(N);
  VecF dl = probs;
  crossentropy_backward(dl.data(), e.targets.data(), N, Vp, 0, V, dloss);
  VecD dref(N * Vp, 0.0);
  for (long n = 0; n < N; ++n)
    for (long v = 0; v < V; ++v) dref[n * Vp + v] = (pref[n * Vp + v] - (v == e.targets[n] ? 1.0 : 0.0)) * dloss;
  expect_close("ce dlogits", dl, dref, 1e-5, 1e-9);
  for (long n = 0; n < N; ++n)
    for (long v = V; v < Vp; ++v) {
      const float g = dl[n * Vp + v];
      ASSERT_TRUE(g == 0.0f && !std::signbit(g)) << "padded dlogit must be +0 at n=" << n << " v=" << v;
    }

  // Finite differences of L = dloss * sum(losses) through the fp64 forward, every real logit (row-local).
  VecD x = ld;
  VecD fd(N * Vp, 0.0);
  long row = 0;
  auto row_loss = [&] { return dloss * ce_ref_row(x.data() + row * Vp, V, e.targets[row], nullptr); };
  for (row = 0; row < N; ++row)
    for (long v = 0; v < V; ++v) fd[row * Vp + v] = central_diff(row_loss, x[row * Vp + v], 1e-5 * std::max(1.0, std::fabs(x[row * Vp + v])));
  expect_close_d("fp64 ce dlogits vs finite differences", dref, fd, 1e-6, 1e-10);
  expect_close("ce dlogits vs finite differences", dl, fd, 1e-5, 1e-9);

  // Determinism.
  VecF probs2 = e.logits, losses2(N);
  crossentropy_forward(losses2.data(), probs2.data(), e.targets.data(), N, Vp, 0, V);
  EXPECT_TRUE(same_bits(probs, probs2) && same_bits(losses, losses2));
  VecF dl2 = probs2;
  crossentropy_backward(dl2.data(), e.targets.data(), N, Vp, 0, V, dloss);
  EXPECT_TRUE(same_bits(dl, dl2));
}

// Vocab-parallel: each of R ranks holds Vp/R columns. The ranks are run one after the other here, with a
// VocabReduce that hands each rank the exact global row maxima and the ordered-tree sum of the ranks'
// partial denominators (captured in a first pass). Losses and probabilities equal the one-rank run bit for
// bit, including ranks whose columns are partly or wholly padding.
TEST(Layer, CrossEntropyVocabParallelMatchesOneRank) {
  CeCase e;
  const long N = e.N, V = e.V, Vp = e.Vp;
  VecF probs1 = e.logits, losses1(N);
  crossentropy_forward(losses1.data(), probs1.data(), e.targets.data(), N, Vp, 0, V);
  VecF gmax(N);
  for (long n = 0; n < N; ++n) gmax[n] = *std::max_element(e.logits.begin() + n * Vp, e.logits.begin() + n * Vp + V);

  for (long R : {2L, 4L}) {
    SCOPED_TRACE("ranks=" + std::to_string(R));
    const long Vl = Vp / R;
    auto slice = [&](long r) {
      VecF s(N * Vl);
      for (long n = 0; n < N; ++n)
        std::copy_n(e.logits.begin() + n * Vp + r * Vl, Vl, s.begin() + n * Vl);
      return s;
    };
    // Pass 1: capture each rank's partial sums (the kernel calls tree_sum for the denominator, then for the
    // target logit).
    std::vector<std::vector<VecF>> partial(R);
    for (long r = 0; r < R; ++r) {
      VocabReduce red;
      long max_calls = 0;
      red.max = [&](float* m, long n) { ++max_calls; std::copy_n(gmax.begin(), n, m); };
      red.tree_sum = [&](float* x, long n) { partial[r].emplace_back(x, x + n); };
      VecF l = slice(r), losses(N);
      crossentropy_forward(losses.data(), l.data(), e.targets.data(), N, Vl, r * Vl, V, &red);
      ASSERT_EQ(max_calls, 1);
      ASSERT_EQ(partial[r].size(), 2u);
    }
    std::vector<VecF> combined(2, VecF(N));
    for (int k = 0; k < 2; ++k)
      for (long n = 0; n < N; ++n) combined[k][n] = tree_reduce(0, R, [&](long r) { return partial[r][k][n]; });
    // Pass 2: every rank with the combined sums.
    for (long r = 0; r < R; ++r) {
      VocabReduce red;
      int call = 0;
      red.max = [&](float* m, long n) { std::copy_n(gmax.begin(), n, m); };
      red.tree_sum = [&](float* x, long n) { std::copy_n(combined[call++].begin(), n, x); };
      VecF l = slice(r), losses(N);
      crossentropy_forward(losses.data(), l.data(), e.targets.data(), N, Vl, r * Vl, V, &red);
      EXPECT_TRUE(same_bits(losses, losses1)) << "rank " << r;
      crossentropy_backward(l.data(), e.targets.data(), N, Vl, r * Vl, V, 0.25f);
      VecF dl1 = probs1;
      crossentropy_backward(dl1.data(), e.targets.data(), N, Vp, 0, V, 0.25f);
      for (long n = 0; n < N; ++n)
        for (long v = 0; v < Vl; ++v)
          ASSERT_EQ(l[n * Vl + v], dl1[n * Vp + r * Vl + v]) << "rank " << r << " n=" << n << " v=" << v;
    }
  }
}

// =========================================================================================================
// Linear
// =========================================================================================================

void check_linear(Numerics num) {
  const long N = 70, K = 64, O = 96;
  SCOPED_TRACE(num == Numerics::exact ? "exact" : "fast");
  const VecF X = normal(N * K, 81), W = normal(O * K, 82, 0.2f), b = normal(O, 83, 0.5f), dY = normal(N * O, 84);
  const VecD Xd = to_d(X), Wd = to_d(W), bd = to_d(b), R = to_d(dY);
  auto fwd = [&](const VecD& x, const VecD& w, const VecD& bb) {
    VecD y(N * O);
    for (long n = 0; n < N; ++n)
      for (long o = 0; o < O; ++o) {
        double s = bb[o];
        for (long k = 0; k < K; ++k) s += x[n * K + k] * w[o * K + k];
        y[n * O + o] = s;
      }
    return y;
  };

  // (a) forward
  VecF Y(N * O, std::nanf(""));
  linear_forward(num, Y.data(), X.data(), W.data(), b.data(), N, K, O);
  const VecD Yref = fwd(Xd, Wd, bd);
  expect_close("linear Y", Y, Yref, 1e-5, 1e-5 * max_abs(Yref));

  // (b) backward: all three gradients, overwritten.
  VecF dX(N * K, std::nanf("")), dW(O * K, std::nanf("")), db(O, std::nanf(""));
  linear_backward(num, dX.data(), dW.data(), db.data(), dY.data(), X.data(), W.data(), N, K, O);
  VecD dXr(N * K, 0.0), dWr(O * K, 0.0), dbr(O, 0.0);
  for (long n = 0; n < N; ++n)
    for (long o = 0; o < O; ++o) {
      dbr[o] += R[n * O + o];
      for (long k = 0; k < K; ++k) {
        dXr[n * K + k] += R[n * O + o] * Wd[o * K + k];
        dWr[o * K + k] += R[n * O + o] * Xd[n * K + k];
      }
    }
  expect_close("linear dX", dX, dXr, 1e-5, 1e-5 * max_abs(dXr));
  expect_close("linear dW", dW, dWr, 1e-5, 1e-5 * max_abs(dWr));
  expect_close("linear db", db, dbr, 1e-5, 1e-5 * max_abs(dbr));

  VecD x = Xd, w = Wd, bb = bd;
  auto loss = [&] {
    const VecD y = fwd(x, w, bb);
    double L = 0.0;
    for (long i = 0; i < N * O; ++i) L += y[i] * R[i];
    return L;
  };
  const auto ix = sample_indices(N * K, 60, 85, {0, N * K - 1}), iw = sample_indices(O * K, 60, 86, {0, O * K - 1});
  const auto ib = all_indices(O);
  const VecD fx = finite_diffs(loss, x, ix), fw = finite_diffs(loss, w, iw), fb = finite_diffs(loss, bb, ib);
  expect_matches_fd("linear dX", dX, fx, ix, 1e-5, 1e-5 * max_abs(dXr));
  expect_matches_fd("linear dW", dW, fw, iw, 1e-5, 1e-5 * max_abs(dWr));
  expect_matches_fd("linear db", db, fb, ib, 1e-5, 1e-5 * max_abs(dbr));

  // Null outputs are skipped, the others unchanged; (c) determinism.
  VecF dX2(N * K), dW2(O * K), db2(O);
  linear_backward(num, dX2.data(), nullptr, nullptr, dY.data(), X.data(), W.data(), N, K, O);
  linear_backward(num, nullptr, dW2.data(), nullptr, dY.data(), X.data(), W.data(), N, K, O);
  linear_backward(num, nullptr, nullptr, db2.data(), dY.data(), X.data(), W.data(), N, K, O);
  EXPECT_TRUE(same_bits(dX, dX2) && same_bits(dW, dW2) && same_bits(db, db2));
  VecF Y2(N * O);
  linear_forward(num, Y2.data(), X.data(), W.data(), b.data(), N, K, O);
  EXPECT_TRUE(same_bits(Y, Y2));
  VecF db_canon(O);
  column_sums(dY.data(), N, O, O, db_canon.data());
  EXPECT_TRUE(same_bits(db, db_canon)) << "db is the canonical column sum of dY";
}

TEST(Layer, LinearExact) { check_linear(Numerics::exact); }
TEST(Layer, LinearFast) { check_linear(Numerics::fast); }

// =========================================================================================================
// AdamW
// =========================================================================================================

TEST(Layer, AdamW) {
  const long n = 10000;  // more than one 8192-element chunk
  const AdamWConfig cfg;
  const float lr = 1e-3f, grad_scale = 0.7f;
  for (float wd : {0.0f, 0.1f}) {
    SCOPED_TRACE("weight_decay=" + std::to_string(wd));
    VecF w = normal(n, 91, 0.5f), m(n, 0.0f), v(n, 0.0f);
    VecF w2 = w, m2 = m, v2 = v;  // a second copy updated in two shards
    for (long t = 1; t <= 4; ++t) {
      VecF g = normal(n, 92 + t, 0.01f);
      g[0] = 0.0f;
      // fp64 expectation from the current (float) state. Tolerances: a few float roundings (2^-24 each)
      // of the magnitudes of the terms, since m, v and w are sums whose terms may cancel.
      const double b1 = cfg.beta1, b2 = cfg.beta2, eps = cfg.eps;
      const double c1 = 1.0 - std::pow(b1, t), c2 = 1.0 - std::pow(b2, t);
      constexpr double u = 0x1.0p-24;
      VecD me(n), ve(n), we(n), tm(n), tv(n), tw(n);
      for (long i = 0; i < n; ++i) {
        const double gi = static_cast<double>(g[i]) * grad_scale;
        me[i] = b1 * m[i] + (1.0 - b1) * gi;
        ve[i] = b2 * v[i] + (1.0 - b2) * gi * gi;
        const double upd = (me[i] / c1) / (std::sqrt(ve[i] / c2) + eps) + wd * w[i];
        we[i] = w[i] - lr * upd;
        tm[i] = 8 * u * (std::fabs(b1 * m[i]) + std::fabs((1.0 - b1) * gi));
        tv[i] = 8 * u * (b2 * v[i] + (1.0 - b2) * gi * gi);
        // The update (divisions, sqrt, products) to ~10 roundings relative, then one rounding of w.
        tw[i] = 2 * u * std::fabs(we[i]) + 12 * u * lr * ((std::fabs(me[i]) / c1) / (std::sqrt(ve[i] / c2) + eps) + std::fabs(wd * w[i]));
      }
      adamw_update(w.data(), m.data(), v.data(), g.data(), n, lr, wd, grad_scale, t, cfg);
      expect_within("adamw m", m, me, tm);
      expect_within("adamw v", v, ve, tv);
      expect_within("adamw w", w, we, tw);
      // Elementwise: updating two shards separately gives the same bits.
      const long cut = 4321;
      adamw_update(w2.data(), m2.data(), v2.data(), g.data(), cut, lr, wd, grad_scale, t, cfg);
      adamw_update(w2.data() + cut, m2.data() + cut, v2.data() + cut, g.data() + cut, n - cut, lr, wd, grad_scale,
                   t, cfg);
      ASSERT_TRUE(same_bits(w, w2) && same_bits(m, m2) && same_bits(v, v2)) << "t=" << t;
    }
  }
}

// Fused kernels: the same bits as the separate passes they replace, in every precision.
TEST(Layer, FusedBiasGeluMatchesSeparatePasses) {
  const long N = 37, O = 200;  // a row length that is not a multiple of 16 exercises the scalar tail
  const VecF x = normal(N * O, 71), bias = normal(O, 72);
  for (Precision p : {Precision::fp32, Precision::bf16, Precision::fp16}) {
    VecF pre_a = x, out_a(N * O), th_a(N * O);
    for (long n = 0; n < N; ++n)
      for (long o = 0; o < O; ++o) pre_a[n * O + o] = pre_a[n * O + o] + bias[o];
    round_to(p, pre_a.data(), N * O);
    gelu_forward(out_a.data(), th_a.data(), pre_a.data(), N * O);
    round_to(p, out_a.data(), N * O);
    VecF pre_b = x, out_b(N * O), th_b(N * O);
    bias_gelu_forward(out_b.data(), th_b.data(), pre_b.data(), bias.data(), N, O, p);
    EXPECT_TRUE(same_bits(pre_a, pre_b) && same_bits(out_a, out_b) && same_bits(th_a, th_b)) << to_string(p);
  }
}

TEST(Layer, FusedResidualLayerNormMatchesSeparatePasses) {
  const long N = 29, C = 96;
  const VecF proj = normal(N * C, 73), x = normal(N * C, 74), pb = normal(C, 75), w = normal(C, 76),
             b = normal(C, 77);
  for (Precision p : {Precision::fp32, Precision::bf16, Precision::fp16}) {
    VecF res_a = proj, ln_a(N * C), mean_a(N), rstd_a(N);
    for (long n = 0; n < N; ++n)
      for (long c = 0; c < C; ++c) res_a[n * C + c] = res_a[n * C + c] + pb[c];
    round_to(p, res_a.data(), N * C);
    for (long i = 0; i < N * C; ++i) res_a[i] = x[i] + res_a[i];
    round_to(p, res_a.data(), N * C);
    layernorm_forward(ln_a.data(), mean_a.data(), rstd_a.data(), res_a.data(), w.data(), b.data(), N, C);
    round_to(p, ln_a.data(), N * C);
    VecF res_b = proj, ln_b(N * C), mean_b(N), rstd_b(N);
    residual_layernorm_forward(ln_b.data(), mean_b.data(), rstd_b.data(), res_b.data(), x.data(), pb.data(),
                               w.data(), b.data(), N, C, p);
    EXPECT_TRUE(same_bits(res_a, res_b) && same_bits(ln_a, ln_b) && same_bits(mean_a, mean_b) &&
                same_bits(rstd_a, rstd_b))
        << to_string(p);
  }
}

}  // namespace
}  // namespace parity
