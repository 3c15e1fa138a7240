// The whole GPT-2 model on one device: a single pipeline stage holding every layer, tensor-parallel degree 1.
// A convenience for tests and tools; the trainer drives Stage directly.
//
// forward() returns the canonical sum of the N per-token losses; backward() overwrites every element of
// `grads` (ParamLayout order) with this micro-batch's gradient of (sum of losses) * dloss, with the tied
// embedding's two parts already added (head + token embedding).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/comm/communicator.hpp"
#include "reference/params.hpp"
#include "reference/shard_layout.hpp"
#include "reference/stage.hpp"

namespace parity {

class GPT2 {
 public:
  // prec != fp32: pass the 16-bit compute copy of the parameters (round_to) to forward and backward.
  GPT2(const ModelConfig& m, Numerics num, long seqs_per_micro_batch, Precision prec = Precision::fp32);
  const ParamLayout& layout() const { return layout_; }
  const ModelConfig& model() const { return m_; }

  float forward(const float* params, const int32_t* inputs, const int32_t* targets);
  void backward(const float* params, float* grads, const int32_t* inputs, const int32_t* targets, float dloss);

 private:
  ModelConfig m_;
  ParamLayout layout_;
  LocalLayout local_;
  std::unique_ptr<Communicator> self_;
  Stage stage_;
  std::vector<float> embed_;
};

}  // namespace parity
