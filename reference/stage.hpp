// One pipeline stage of the GPT-2 decoder on one tensor-parallel rank: forward and backward by hand.
//
// Shape legend: S sequences per micro-batch, T tokens, N = S*T rows, C channels, H heads (Hl = H/tp on this
// rank), hs = C/H, Vp padded vocabulary (Vl = Vp/tp rows of wte on this rank).
//   first stage:  x = wte[tok] + wpe[pos]   (vocab-parallel: partial rows summed over TP, exact)
//   each layer:   x += proj(attn(qkv(ln1(x))));  x += mproj(gelu(fc(ln2(x))))
//                 qkv, fc column-parallel (local heads / rows); proj, mproj row-parallel (partial sums combined
//                 with the ordered tree over TP ranks, then the bias)
//   last stage:   logits = lnf(x) wte^T (vocab-parallel), loss = cross-entropy, summed canonically over rows.
// With tp = pp = 1 this is the whole model on one device; every layout computes the same bits in exact mode.
//
// Every buffer is unified memory (kernels/device.hpp) and every step is a kernel call, so the same code runs
// on the host or the device (--target).
// Activations live in `slots` (one per micro-batch in flight: 1 for one device, up to pp for 1F1B).
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "kernels/comm/communicator.hpp"
#include "kernels/device.hpp"
#include "kernels/gemm.hpp"
#include "kernels/precision.hpp"
#include "reference/shard_layout.hpp"

namespace parity {

class Stage {
 public:
  // prec: fp32, or bf16/fp16, in which case the parameters passed to forward/backward must be the 16-bit
  // compute copy and every activation and activation gradient is rounded where a 16-bit model stores it.
  Stage(const ModelConfig& m, Numerics num, Precision prec, long seqs, const LocalLayout& layout, Communicator& tp,
        int slots);

  // First stage reads inputs; others read x_in [N, C]. The last stage returns the canonical sum of the N
  // per-token losses; others write the stage output to x_out [N, C] and return 0.
  float forward(int slot, const float* P, const int32_t* inputs, const int32_t* targets, const float* x_in,
                float* x_out);

  // Last stage starts from the loss (each token's loss scaled by dloss = 1/tokens, once); others from dx_out.
  // Overwrites every local gradient in G. The tied embedding's two parts stay apart: the LM head's part goes
  // to G[wte] (last stage), the token embedding's part to G_embed [Vl, C] (first stage); the trainer adds
  // them after the micro-batch and data-parallel trees. Other stages than the first write dx_in [N, C].
  // ready(first, n), if given, is called as soon as the gradients [first, first+n) of G or G_embed are final
  // (LM head and lnf, then each layer from the last, then wpe and the embedding), so that a data-parallel
  // reduction can start on them while the rest of the backward pass runs. The calls cover G and G_embed.
  using ReadyFn = std::function<void(const float*, long)>;
  void backward(int slot, const float* P, float* G, float* G_embed, const int32_t* inputs, const int32_t* targets,
                const float* dx_out, float* dx_in, float dloss, const ReadyFn& ready = {});


 private:
  struct LayerActs {
    uvector<float> ln1, ln1_mean, ln1_rstd, qkv, atty, att, res2, ln2, ln2_mean, ln2_rstd, fch, fch_tanh, fch_gelu, res3;
  };
  struct Slot {
    uvector<float> input, lnf, lnf_mean, lnf_rstd, logits;
    std::vector<LayerActs> layers;
  };
  void tp_sum(float* x, long n);  // partial sums over the TP group: canonical tree (exact) or MPI's (fast)
  void rnd(float* x, long n) const { round_to(prec_, x, n); }  // store in the compute precision
  void rnd(uvector<float>& x) const { round_to(prec_, x.data(), static_cast<long>(x.size())); }
  // x_out = round(x_in + round(partial + bias)): a row-parallel projection's output joining the residual.
  void residual_join(float* out, const float* x, const float* bias) const;
  const float* layer_input(const Slot& s, long i) const { return i == 0 ? s.input.data() : s.layers[i - 1].res3.data(); }

  ModelConfig m_;
  Numerics num_;
  Precision prec_;
  const LocalLayout& lay_;
  Communicator& tp_;
  long S_, N_, nl_, Hl_, Cl_, Vl_;
  std::vector<Slot> slots_;
  uvector<float> losses_, dres_, dx_c_, dx_4c_, dx_4c2_, dx_3c_;
};

}  // namespace parity
