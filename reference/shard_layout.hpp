// What one rank holds of the parameters: its pipeline stage's tensors, each cut to its tensor-parallel shard
// (Megatron-style), packed into a local flat buffer.
//
//   tensor                         split over TP      why
//   wte [Vp, C]                    rows (vocab)       vocab-parallel embedding and cross-entropy
//   attn.qkv.weight/bias           rows (heads)       column-parallel; rows are head-interleaved inside
//   mlp.fc.weight/bias             rows               column-parallel
//   attn.proj.weight, mlp.proj.weight  cols           row-parallel (partial sums, tree over TP ranks)
//   wpe, layernorms, proj biases   replicated         (row-parallel biases are added after the TP reduction)
//
// Stages: the first holds wte and wpe, the last holds wte (tied LM head) and lnf, each holds its layers.
#pragma once
#include <string>
#include <vector>

#include "reference/params.hpp"

namespace parity {

struct StageSpec {
  int tp = 1, tp_rank = 0;
  int pp = 1, stage = 0;
  long layer_lo = 0, layer_hi = 0;  // this stage's layers [lo, hi)
  bool first() const { return stage == 0; }
  bool last() const { return stage == pp - 1; }
};

enum class Split { none, rows, cols };

struct LocalTensor {
  const TensorInfo* global = nullptr;
  Split split = Split::none;
  long rows = 0, cols = 0;  // local shape
  long row0 = 0, col0 = 0;  // where the shard starts in the global (internal) tensor
  long offset = 0, size = 0;
  // Global internal flat index of local element (r, c).
  long global_index(long r, long c) const { return global->offset + (row0 + r) * global->cols + col0 + c; }
};

class LocalLayout {
 public:
  LocalLayout(const ParamLayout& full, const StageSpec& spec);
  const std::vector<LocalTensor>& tensors() const { return tensors_; }
  long total() const { return total_; }
  const StageSpec& spec() const { return spec_; }
  const ParamLayout& full() const { return full_; }
  const LocalTensor* find(const std::string& name) const;  // null if not on this rank

  // Local offsets by role (-1 where the tensor is not on this stage); blocks[l - layer_lo].
  long wte = -1, wpe = -1, lnfw = -1, lnfb = -1;
  std::vector<BlockOffsets> blocks;
  long vocab_lo = 0, vocab_rows = 0;  // this rank's rows of wte (padded vocabulary)

 private:
  long add(const TensorInfo& t, Split split);
  const ParamLayout& full_;
  StageSpec spec_;
  std::vector<LocalTensor> tensors_;
  long total_ = 0;
};

// Even split of L layers over pp stages, or an explicit list of layer counts; throws parity::Error if the
// split does not add up.
std::vector<long> stage_layers(long L, int pp, const std::vector<long>& explicit_split);

}  // namespace parity
