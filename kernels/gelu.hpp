// GELU, tanh approximation: y = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). Elementwise over n values.
#pragma once

#include "kernels/precision.hpp"

namespace parity {

// tanh_out (may be null) keeps tanh(sqrt(2/pi)(x + 0.044715 x^3)) for the backward pass, which then needs no
// second transcendental.
void gelu_forward(float* out, float* tanh_out, const float* inp, long n);
// dinp = dout * gelu'(inp) (overwritten); th is the forward's tanh_out, or null to recompute it.
// Fused bias + GELU for the MLP's first linear layer, whose GEMM ran without its bias: per row,
// pre = round(pre + bias) in place (the saved pre-activation), out = round(gelu(pre)), tanh_out kept.
// The same operations in the same order as GEMM-with-bias, round_to, gelu_forward, round_to (so the same
// bits), in one pass over the [N, O] activation instead of three.
void bias_gelu_forward(float* out, float* tanh_out, float* pre, const float* bias, long N, long O, Precision prec);
// gelu_forward's device form (kernels/device.hpp), which gelu_forward runs when on_device(): Kokkos's default
// execution space (the GPU in the CUDA build, the host otherwise); the pointers must be in its memory space
// (unified memory). Same per-element operations as the host kernel, so the same bits (suites/unit checks it
// on the host; on a GPU the CUDA build runs it with --fmad=false). bias_gelu_forward and gelu_backward
// dispatch to device forms the same way.
void gelu_forward_device(float* out, float* tanh_out, const float* inp, long n);
void gelu_backward(float* dinp, const float* inp, const float* th, const float* dout, long n);

}  // namespace parity
