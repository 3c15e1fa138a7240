// The parameter set of the GPT-2 model: names, file shapes (docs/design.md, "Model semantics") and where
// each tensor lives in the trainer's flat buffers.
//
// The flat buffer holds the tensors in this order: wte, wpe, then for each block ln1.weight, ln1.bias,
// attn.qkv.weight, attn.qkv.bias, attn.proj.weight, attn.proj.bias, ln2.weight, ln2.bias, mlp.fc.weight,
// mlp.fc.bias, mlp.proj.weight, mlp.proj.bias, then lnf.weight, lnf.bias. That order is also the canonical
// order of the gradient norm's sum of squares. Two tensors differ from their file form:
//   - wte has Vp (padded) rows inside, V rows in files; the padding rows are zero and stay zero.
//   - attn.qkv.weight/bias rows are kept head-interleaved (head h: its q, k, v rows together) instead of
//     the file's Q, K, V blocks, so that each attention head, and each tensor-parallel shard of heads, is
//     contiguous. file_row() maps one to the other.
#pragma once
#include <string>
#include <vector>

#include "reference/model_config.hpp"

namespace parity {

struct TensorInfo {
  std::string name;
  std::vector<long> file_shape;  // as stored in checkpoints ([V, C] for wte)
  long rows = 0, cols = 0;       // internal 2-D view (vectors: rows = n, cols = 1)
  long offset = 0;               // in the flat buffer
  long size = 0;                 // internal element count (rows * cols)
  bool decay = false;            // weight decay applies (2-D weights only)
  bool qkv = false;              // rows permuted head-interleaved inside
};

struct BlockOffsets {
  long ln1w, ln1b, qkvw, qkvb, projw, projb, ln2w, ln2b, fcw, fcb, mprojw, mprojb;
};

class ParamLayout {
 public:
  explicit ParamLayout(const ModelConfig& m);
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo& find(const std::string& name) const;
  long total() const { return total_; }
  const ModelConfig& model() const { return m_; }

  long wte, wpe, lnfw, lnfb;
  std::vector<BlockOffsets> blocks;

  // File row of internal row r of a tensor (identity except for qkv).
  long file_row(const TensorInfo& t, long r) const;
  // Internal tensor -> file layout (drops wte's padding rows) and back (zero padding rows).
  void to_file(const TensorInfo& t, const float* internal, float* file) const;
  void from_file(const TensorInfo& t, const float* file, float* internal) const;
  long file_size(const TensorInfo& t) const;

 private:
  long add(const std::string& name, std::vector<long> file_shape, long rows, long cols, bool decay, bool qkv);
  ModelConfig m_;
  std::vector<TensorInfo> tensors_;
  long total_ = 0;
};

}  // namespace parity
