#include "reference/gpt2.hpp"

#include "kernels/attention.hpp"
#include "kernels/canonical.hpp"
#include "kernels/crossentropy.hpp"
#include "kernels/encoder.hpp"
#include "kernels/gelu.hpp"
#include "kernels/layernorm.hpp"
#include "kernels/linear.hpp"

namespace parity {

GPT2::GPT2(const ModelConfig& m, Numerics num, long seqs) : m_(m), num_(num), layout_(m), S_(seqs), N_(seqs * m.T) {
  const long N = N_, C = m.C;
  encoded_.resize(N * C);
  lnf_.resize(N * C);
  lnf_mean_.resize(N);
  lnf_rstd_.resize(N);
  logits_.resize(N * m.Vp());
  losses_.resize(N);
  acts_.resize(m.L);
  for (auto& a : acts_) {
    a.ln1.resize(N * C); a.ln1_mean.resize(N); a.ln1_rstd.resize(N);
    a.qkv.resize(N * 3 * C); a.atty.resize(N * C); a.att.resize(S_ * m.H * m.T * m.T);
    a.res2.resize(N * C); a.ln2.resize(N * C); a.ln2_mean.resize(N); a.ln2_rstd.resize(N);
    a.fch.resize(N * 4 * C); a.fch_gelu.resize(N * 4 * C); a.res3.resize(N * C);
  }
  dres_.resize(N * C);
  dx_c_.resize(N * C);
  dx_4c_.resize(N * 4 * C);
  dx_4c2_.resize(N * 4 * C);
  dx_3c_.resize(N * 3 * C);
}

float GPT2::forward(const float* P, const int32_t* inputs, const int32_t* targets) {
  const long N = N_, C = m_.C, T = m_.T, H = m_.H, Vp = m_.Vp();
  encoder_forward(encoded_.data(), inputs, P + layout_.wte, P + layout_.wpe, N, T, C, 0, Vp);
  const float* x = encoded_.data();
  for (long l = 0; l < m_.L; ++l) {
    const BlockOffsets& o = layout_.blocks[l];
    LayerActs& a = acts_[l];
    layernorm_forward(a.ln1.data(), a.ln1_mean.data(), a.ln1_rstd.data(), x, P + o.ln1w, P + o.ln1b, N, C);
    linear_forward(num_, a.qkv.data(), a.ln1.data(), P + o.qkvw, P + o.qkvb, N, C, 3 * C);
    attention_forward(a.atty.data(), a.att.data(), a.qkv.data(), S_, T, H, m_.hs());
    linear_forward(num_, a.res2.data(), a.atty.data(), P + o.projw, P + o.projb, N, C, C);
    for (long i = 0; i < N * C; ++i) a.res2[i] = x[i] + a.res2[i];
    layernorm_forward(a.ln2.data(), a.ln2_mean.data(), a.ln2_rstd.data(), a.res2.data(), P + o.ln2w, P + o.ln2b, N, C);
    linear_forward(num_, a.fch.data(), a.ln2.data(), P + o.fcw, P + o.fcb, N, C, 4 * C);
    gelu_forward(a.fch_gelu.data(), a.fch.data(), N * 4 * C);
    linear_forward(num_, a.res3.data(), a.fch_gelu.data(), P + o.mprojw, P + o.mprojb, N, 4 * C, C);
    for (long i = 0; i < N * C; ++i) a.res3[i] = a.res2[i] + a.res3[i];
    x = a.res3.data();
  }
  layernorm_forward(lnf_.data(), lnf_mean_.data(), lnf_rstd_.data(), x, P + layout_.lnfw, P + layout_.lnfb, N, C);
  linear_forward(num_, logits_.data(), lnf_.data(), P + layout_.wte, nullptr, N, C, Vp);
  crossentropy_forward(losses_.data(), logits_.data(), targets, N, Vp, 0, m_.V);
  return canonical_sum(losses_.data(), N);
}

void GPT2::backward(const float* P, float* G, const int32_t* inputs, const int32_t* targets, float dloss) {
  const long N = N_, C = m_.C, T = m_.T, H = m_.H, Vp = m_.Vp();
  // LM head (tied): dlogits -> d(lnf out) and the head's part of dwte.
  crossentropy_backward(logits_.data(), targets, N, Vp, 0, m_.V, dloss);
  linear_backward(num_, dx_c_.data(), G + layout_.wte, nullptr, logits_.data(), lnf_.data(), P + layout_.wte, N, C, Vp);
  const float* x_last = m_.L > 0 ? acts_[m_.L - 1].res3.data() : encoded_.data();
  std::fill(dres_.begin(), dres_.end(), 0.0f);
  layernorm_backward(dres_.data(), G + layout_.lnfw, G + layout_.lnfb, dx_c_.data(), x_last, P + layout_.lnfw,
                     lnf_mean_.data(), lnf_rstd_.data(), N, C);
  for (long l = m_.L - 1; l >= 0; --l) {
    const BlockOffsets& o = layout_.blocks[l];
    LayerActs& a = acts_[l];
    const float* x = l > 0 ? acts_[l - 1].res3.data() : encoded_.data();
    // MLP: res3 = res2 + proj(gelu(fc(ln2(res2)))); dres is d(res3).
    linear_backward(num_, dx_4c_.data(), G + o.mprojw, G + o.mprojb, dres_.data(), a.fch_gelu.data(), P + o.mprojw, N, 4 * C, C);
    gelu_backward(dx_4c2_.data(), a.fch.data(), dx_4c_.data(), N * 4 * C);
    linear_backward(num_, dx_c_.data(), G + o.fcw, G + o.fcb, dx_4c2_.data(), a.ln2.data(), P + o.fcw, N, C, 4 * C);
    layernorm_backward(dres_.data(), G + o.ln2w, G + o.ln2b, dx_c_.data(), a.res2.data(), P + o.ln2w,
                       a.ln2_mean.data(), a.ln2_rstd.data(), N, C);
    // Attention: res2 = x + proj(attn(qkv(ln1(x)))); dres is now d(res2).
    linear_backward(num_, dx_c_.data(), G + o.projw, G + o.projb, dres_.data(), a.atty.data(), P + o.projw, N, C, C);
    attention_backward(dx_3c_.data(), dx_c_.data(), a.qkv.data(), a.att.data(), S_, T, H, m_.hs());
    linear_backward(num_, dx_c_.data(), G + o.qkvw, G + o.qkvb, dx_3c_.data(), a.ln1.data(), P + o.qkvw, N, C, 3 * C);
    layernorm_backward(dres_.data(), G + o.ln1w, G + o.ln1b, dx_c_.data(), x, P + o.ln1w, a.ln1_mean.data(),
                       a.ln1_rstd.data(), N, C);
  }
  // Embedding: dwte = (head part, already in G) + (token part); dwpe = sum over sequences.
  encoder_backward(G + layout_.wte, G + layout_.wpe, dres_.data(), inputs, N, T, C, 0, Vp);
}

}  // namespace parity
