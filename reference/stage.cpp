#include "reference/stage.hpp"

#include <algorithm>

#include "kernels/attention.hpp"
#include "kernels/canonical.hpp"
#include "kernels/crossentropy.hpp"
#include "kernels/encoder.hpp"
#include "kernels/gelu.hpp"
#include "kernels/layernorm.hpp"
#include "kernels/linear.hpp"

namespace parity {

Stage::Stage(const ModelConfig& m, Numerics num, Precision prec, long seqs, const LocalLayout& layout,
             Communicator& tp, int slots)
    : m_(m), num_(num), prec_(prec), lay_(layout), tp_(tp), S_(seqs), N_(seqs * m.T) {
  const StageSpec& sp = layout.spec();
  nl_ = sp.layer_hi - sp.layer_lo;
  Hl_ = m.H / sp.tp;
  Cl_ = m.C / sp.tp;
  Vl_ = m.Vp() / sp.tp;
  const long N = N_, C = m.C;
  slots_.resize(slots);
  for (Slot& s : slots_) {
    s.input.resize(N * C);
    if (sp.last()) {
      s.lnf.resize(N * C);
      s.lnf_mean.resize(N);
      s.lnf_rstd.resize(N);
      s.logits.resize(N * Vl_);
    }
    s.layers.resize(nl_);
    for (auto& a : s.layers) {
      a.ln1.resize(N * C); a.ln1_mean.resize(N); a.ln1_rstd.resize(N);
      a.qkv.resize(N * 3 * Cl_); a.atty.resize(N * Cl_); a.att.resize(S_ * Hl_ * m.T * m.T);
      a.res2.resize(N * C); a.ln2.resize(N * C); a.ln2_mean.resize(N); a.ln2_rstd.resize(N);
      a.fch.resize(N * 4 * Cl_); a.fch_tanh.resize(N * 4 * Cl_); a.fch_gelu.resize(N * 4 * Cl_); a.res3.resize(N * C);
    }
  }
  losses_.resize(N);
  dres_.resize(N * C);
  dx_c_.resize(N * C);
  dx_4c_.resize(N * 4 * Cl_);
  dx_4c2_.resize(N * 4 * Cl_);
  dx_3c_.resize(N * 3 * Cl_);
}

void Stage::tp_sum(float* x, long n) {
  if (tp_.size() > 1) tp_.allreduce_sum(x, n, num_);  // fp32 partial sums: rounding only after the tree
}

void Stage::residual_join(float* out, const float* x, const float* bias) const {
  const long N = N_, C = m_.C;
  add_rows(out, bias, N, C, 1);
  rnd(out, N * C);
  add_into(out, x, N * C);  // out + x: the same bits as x + out
  rnd(out, N * C);
}

float Stage::forward(int slot, const float* P, const int32_t* inputs, const int32_t* targets, const float* x_in,
                     float* x_out) {
  const StageSpec& sp = lay_.spec();
  const long N = N_, C = m_.C, T = m_.T;
  Slot& s = slots_[slot];
  if (sp.first()) {
    // Each TP rank embeds the tokens of its vocabulary rows (others 0); the sum over ranks has one
    // nonzero term per element, so it is exact in any order. The position embedding is added after.
    encoder_forward(s.input.data(), inputs, P + lay_.wte, nullptr, N, T, C, lay_.vocab_lo, lay_.vocab_lo + Vl_);
    tp_sum(s.input.data(), N * C);
    add_rows(s.input.data(), P + lay_.wpe, N, C, T);
    rnd(s.input);
  } else {
    copy(s.input.data(), x_in, N * C);
  }
  // Fused kernels (bits as the separate passes): the projection bias + residual + next LayerNorm
  // (residual_layernorm_forward), the MLP's bias + GELU (bias_gelu_forward). A block's ln1 is computed by
  // the previous block's residual, and the last block's residual computes lnf on the last stage.
  bool lnf_done = false;
  for (long i = 0; i < nl_; ++i) {
    const BlockOffsets& o = lay_.blocks[i];
    LayerActs& a = s.layers[i];
    const float* x = layer_input(s, i);
    if (i == 0) {
      layernorm_forward(a.ln1.data(), a.ln1_mean.data(), a.ln1_rstd.data(), x, P + o.ln1w, P + o.ln1b, N, C);
      rnd(a.ln1);
    }
    linear_forward(num_, a.qkv.data(), a.ln1.data(), P + o.qkvw, P + o.qkvb, N, C, 3 * Cl_);
    rnd(a.qkv);
    attention_forward(a.atty.data(), a.att.data(), a.qkv.data(), S_, T, Hl_, m_.hs(), num_);  // softmax in fp32
    rnd(a.atty);
    linear_forward(num_, a.res2.data(), a.atty.data(), P + o.projw, nullptr, N, Cl_, C);
    tp_sum(a.res2.data(), N * C);
    residual_layernorm_forward(a.ln2.data(), a.ln2_mean.data(), a.ln2_rstd.data(), a.res2.data(), x, P + o.projb,
                               P + o.ln2w, P + o.ln2b, N, C, prec_);
    linear_forward(num_, a.fch.data(), a.ln2.data(), P + o.fcw, nullptr, N, C, 4 * Cl_);
    bias_gelu_forward(a.fch_gelu.data(), a.fch_tanh.data(), a.fch.data(), P + o.fcb, N, 4 * Cl_, prec_);
    linear_forward(num_, a.res3.data(), a.fch_gelu.data(), P + o.mprojw, nullptr, N, 4 * Cl_, C);
    tp_sum(a.res3.data(), N * C);
    if (i + 1 < nl_) {
      LayerActs& next = s.layers[i + 1];
      const BlockOffsets& no = lay_.blocks[i + 1];
      residual_layernorm_forward(next.ln1.data(), next.ln1_mean.data(), next.ln1_rstd.data(), a.res3.data(),
                                 a.res2.data(), P + o.mprojb, P + no.ln1w, P + no.ln1b, N, C, prec_);
    } else if (sp.last()) {
      residual_layernorm_forward(s.lnf.data(), s.lnf_mean.data(), s.lnf_rstd.data(), a.res3.data(), a.res2.data(),
                                 P + o.mprojb, P + lay_.lnfw, P + lay_.lnfb, N, C, prec_);
      lnf_done = true;
    } else {
      residual_join(a.res3.data(), a.res2.data(), P + o.mprojb);
    }
  }
  const float* x = layer_input(s, nl_);
  if (!sp.last()) {
    copy(x_out, x, N * C);
    return 0.0f;
  }
  if (!lnf_done) {
    layernorm_forward(s.lnf.data(), s.lnf_mean.data(), s.lnf_rstd.data(), x, P + lay_.lnfw, P + lay_.lnfb, N, C);
    rnd(s.lnf);
  }
  linear_forward(num_, s.logits.data(), s.lnf.data(), P + lay_.wte, nullptr, N, C, Vl_);
  rnd(s.logits);  // 16-bit logits; the softmax and the loss are computed in fp32
  VocabReduce reduce{[this](float* v, long n) { if (tp_.size() > 1) tp_.allreduce_max(v, n); },
                     [this](float* v, long n) { tp_sum(v, n); }};
  crossentropy_forward(losses_.data(), s.logits.data(), targets, N, Vl_, lay_.vocab_lo, m_.V, &reduce);
  return canonical_sum(losses_.data(), N);
}

void Stage::backward(int slot, const float* P, float* G, float* G_embed, const int32_t* inputs,
                     const int32_t* targets, const float* dx_out, float* dx_in, float dloss, const ReadyFn& ready) {
  const StageSpec& sp = lay_.spec();
  const long N = N_, C = m_.C, T = m_.T;
  Slot& s = slots_[slot];
  auto done = [&](const float* first, long n) {
    if (ready) ready(first, n);
  };
  if (sp.last()) {
    // LM head (tied, vocab-parallel): dlogits -> d(lnf out) (partial over the vocabulary, tree over TP)
    // and the head's part of dwte.
    crossentropy_backward(s.logits.data(), targets, N, Vl_, lay_.vocab_lo, m_.V, dloss);
    rnd(s.logits);
    linear_backward(num_, dx_c_.data(), G + lay_.wte, nullptr, s.logits.data(), s.lnf.data(), P + lay_.wte, N, C, Vl_);
    tp_sum(dx_c_.data(), N * C);
    rnd(dx_c_);
    fill(dres_.data(), N * C, 0.0f);
    layernorm_backward(dres_.data(), G + lay_.lnfw, G + lay_.lnfb, dx_c_.data(), layer_input(s, nl_), P + lay_.lnfw,
                       s.lnf_mean.data(), s.lnf_rstd.data(), N, C);
    rnd(dres_);
    done(G + lay_.wte, Vl_ * C);
    done(G + lay_.lnfw, 2 * C);
  } else {
    copy(dres_.data(), dx_out, N * C);
    if (sp.first()) {
      fill(G + lay_.wte, Vl_ * C, 0.0f);  // the head's part lives on the last stage
      done(G + lay_.wte, Vl_ * C);
    }
  }
  for (long i = nl_ - 1; i >= 0; --i) {
    const BlockOffsets& o = lay_.blocks[i];
    LayerActs& a = s.layers[i];
    // MLP: dres is d(res3). Row-parallel mproj: local weight columns; its input gradient needs no reduction.
    linear_backward(num_, dx_4c_.data(), G + o.mprojw, G + o.mprojb, dres_.data(), a.fch_gelu.data(), P + o.mprojw, N, 4 * Cl_, C);
    rnd(dx_4c_);
    gelu_backward(dx_4c2_.data(), a.fch.data(), a.fch_tanh.data(), dx_4c_.data(), N * 4 * Cl_);
    rnd(dx_4c2_);
    linear_backward(num_, dx_c_.data(), G + o.fcw, G + o.fcb, dx_4c2_.data(), a.ln2.data(), P + o.fcw, N, C, 4 * Cl_);
    tp_sum(dx_c_.data(), N * C);  // column-parallel fc: input gradient partial over the 4C outputs
    rnd(dx_c_);
    layernorm_backward(dres_.data(), G + o.ln2w, G + o.ln2b, dx_c_.data(), a.res2.data(), P + o.ln2w,
                       a.ln2_mean.data(), a.ln2_rstd.data(), N, C);
    rnd(dres_);
    // Attention: dres is now d(res2).
    linear_backward(num_, dx_c_.data(), G + o.projw, G + o.projb, dres_.data(), a.atty.data(), P + o.projw, N, Cl_, C);
    rnd(dx_c_.data(), N * Cl_);
    attention_backward(dx_3c_.data(), dx_c_.data(), a.qkv.data(), a.att.data(), S_, T, Hl_, m_.hs(), num_);
    rnd(dx_3c_);
    linear_backward(num_, dx_c_.data(), G + o.qkvw, G + o.qkvb, dx_3c_.data(), a.ln1.data(), P + o.qkvw, N, C, 3 * Cl_);
    tp_sum(dx_c_.data(), N * C);  // column-parallel qkv: partial over this rank's heads
    rnd(dx_c_);
    layernorm_backward(dres_.data(), G + o.ln1w, G + o.ln1b, dx_c_.data(), layer_input(s, i), P + o.ln1w,
                       a.ln1_mean.data(), a.ln1_rstd.data(), N, C);
    rnd(dres_);
    done(G + o.ln1w, o.mprojb + C - o.ln1w);  // the layer's tensors are contiguous, ln1.weight .. mlp.proj.bias
  }
  if (sp.first()) {
    // Token embedding's part of dwte (this rank's vocabulary rows), and dwpe.
    fill(G_embed, Vl_ * C, 0.0f);
    encoder_backward(G_embed, G + lay_.wpe, dres_.data(), inputs, N, T, C, lay_.vocab_lo, lay_.vocab_lo + Vl_);
    done(G + lay_.wpe, T * C);
    done(G_embed, Vl_ * C);
  } else {
    copy(dx_in, dres_.data(), N * C);
  }
}

}  // namespace parity
