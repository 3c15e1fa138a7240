#include "reference/model_config.hpp"

#include <sstream>

#include "kernels/error.hpp"

namespace parity {

std::string ModelConfig::describe() const {
  std::ostringstream s;
  s << "L" << L << " C" << C << " H" << H << " T" << T << " V" << V << " (padded " << Vp() << ")";
  return s.str();
}

ModelConfig model_preset(const std::string& name) {
  if (name == "tiny") return {4, 128, 4, 64, 256};
  if (name == "small") return {4, 256, 4, 256, 8192};
  if (name == "gpt2-124m") return {12, 768, 12, 1024, 50257};
  throw Error("unknown model preset '" + name + "' (known: tiny, small, gpt2-124m)");
}

void validate(const ModelConfig& m) {
  auto need = [](bool ok, const std::string& what) {
    if (!ok) throw Error("bad model dimensions: " + what);
  };
  need(m.L >= 1, "layers must be >= 1 (got " + std::to_string(m.L) + ")");
  need(m.C >= 1 && m.H >= 1, "channels and heads must be >= 1");
  need(m.C % m.H == 0, "channels C=" + std::to_string(m.C) + " is not divisible by heads H=" + std::to_string(m.H));
  // Every tensor is then a whole number of 32-element blocks, so per-block units of the gradient norm
  // never straddle two tensors or two shards.
  need(m.C % 32 == 0, "channels C=" + std::to_string(m.C) + " must be a multiple of 32 (the canonical block)");
  need(m.T >= 1, "sequence length must be >= 1");
  need(m.V >= 2, "vocabulary must be >= 2");
}

}  // namespace parity
