#include "reference/gpt2.hpp"

namespace parity {

namespace {
StageSpec whole_model(const ModelConfig& m) {
  StageSpec s;
  s.layer_hi = m.L;
  return s;
}
}  // namespace

GPT2::GPT2(const ModelConfig& m, Numerics num, long seqs, Precision prec)
    : m_(m),
      layout_(m),
      local_(layout_, whole_model(m)),
      self_(make_self_communicator()),
      stage_(m, num, prec, seqs, local_, *self_, 1),
      embed_(m.Vp() * m.C) {}

float GPT2::forward(const float* params, const int32_t* inputs, const int32_t* targets) {
  return stage_.forward(0, params, inputs, targets, nullptr, nullptr);
}

void GPT2::backward(const float* params, float* grads, const int32_t* inputs, const int32_t* targets, float dloss) {
  stage_.backward(0, params, grads, embed_.data(), inputs, targets, nullptr, nullptr, dloss);
  float* w = grads + layout_.wte;
  for (size_t i = 0; i < embed_.size(); ++i) w[i] = w[i] + embed_[i];
}

}  // namespace parity
