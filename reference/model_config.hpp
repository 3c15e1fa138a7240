// Model dimensions and presets. The vocabulary is padded to a multiple of 256 inside the trainer
// (a property of the model, never of the layout: 32-element blocks x TP degrees up to 8).
#pragma once
#include <string>

namespace parity {

struct ModelConfig {
  long L = 4, C = 128, H = 4, T = 64, V = 256;
  long Vp() const { return (V + 255) / 256 * 256; }
  long hs() const { return C / H; }
  // Parameter count without padding rows or position embedding (the N of FLOPs/token = 6N + 12 L T C).
  long flops_params() const { return V * C + L * (12 * C * C + 13 * C) + 2 * C; }
  double flops_per_token() const { return 6.0 * flops_params() + 12.0 * L * T * C; }
  std::string describe() const;
};

// "tiny", "small", "gpt2-124m"; throws parity::Error naming the known presets otherwise.
ModelConfig model_preset(const std::string& name);

// Throws parity::Error if the dimensions are unusable (e.g. C not divisible by H).
void validate(const ModelConfig& m);

}  // namespace parity
