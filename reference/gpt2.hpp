// The GPT-2 decoder, forward and backward by hand (DESIGN.md, "Model semantics"), on one micro-batch.
//
// Shape legend: S sequences per micro-batch, T tokens, N = S*T rows, C channels, H heads, hs = C/H,
// L layers, Vp padded vocabulary.
//   x = wte[tok] + wpe[pos];  per block: x += attn(ln1(x)); x += mlp(ln2(x));  lnf;  logits = x wte^T;
//   loss = cross-entropy (padding columns masked).
// forward() returns the canonical sum of the N per-token losses; the caller combines micro-batches with
// the tree and divides by the token count once. backward() overwrites every element of `grads` with this
// micro-batch's gradient of (sum of losses) * dloss.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/gemm.hpp"
#include "reference/params.hpp"

namespace parity {

class GPT2 {
 public:
  GPT2(const ModelConfig& m, Numerics num, long seqs_per_micro_batch);
  const ParamLayout& layout() const { return layout_; }
  const ModelConfig& model() const { return m_; }

  float forward(const float* params, const int32_t* inputs, const int32_t* targets);
  void backward(const float* params, float* grads, const int32_t* inputs, const int32_t* targets, float dloss);

 private:
  struct LayerActs {
    std::vector<float> ln1, ln1_mean, ln1_rstd, qkv, atty, att, res2, ln2, ln2_mean, ln2_rstd, fch, fch_gelu,
        res3;
  };
  ModelConfig m_;
  Numerics num_;
  ParamLayout layout_;
  long S_, N_;
  std::vector<float> encoded_, lnf_, lnf_mean_, lnf_rstd_, logits_, losses_;
  std::vector<LayerActs> acts_;
  // backward scratch
  std::vector<float> dres_, dx_c_, dx_4c_, dx_4c2_, dx_3c_;
};

}  // namespace parity
