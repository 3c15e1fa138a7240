#include "reference/params.hpp"

#include <algorithm>

#include "kernels/error.hpp"

namespace parity {

long ParamLayout::add(const std::string& name, std::vector<long> file_shape, long rows, long cols, bool decay,
                      bool qkv) {
  TensorInfo t;
  t.name = name;
  t.file_shape = std::move(file_shape);
  t.rows = rows;
  t.cols = cols;
  t.size = rows * cols;
  t.offset = total_;
  t.decay = decay;
  t.qkv = qkv;
  total_ += t.size;
  tensors_.push_back(t);
  return t.offset;
}

ParamLayout::ParamLayout(const ModelConfig& m) : m_(m) {
  const long C = m.C;
  wte = add("wte", {m.V, C}, m.Vp(), C, true, false);
  wpe = add("wpe", {m.T, C}, m.T, C, true, false);
  for (long l = 0; l < m.L; ++l) {
    const std::string p = "blocks." + std::to_string(l) + ".";
    BlockOffsets b;
    b.ln1w = add(p + "ln1.weight", {C}, C, 1, false, false);
    b.ln1b = add(p + "ln1.bias", {C}, C, 1, false, false);
    b.qkvw = add(p + "attn.qkv.weight", {3 * C, C}, 3 * C, C, true, true);
    b.qkvb = add(p + "attn.qkv.bias", {3 * C}, 3 * C, 1, false, true);
    b.projw = add(p + "attn.proj.weight", {C, C}, C, C, true, false);
    b.projb = add(p + "attn.proj.bias", {C}, C, 1, false, false);
    b.ln2w = add(p + "ln2.weight", {C}, C, 1, false, false);
    b.ln2b = add(p + "ln2.bias", {C}, C, 1, false, false);
    b.fcw = add(p + "mlp.fc.weight", {4 * C, C}, 4 * C, C, true, false);
    b.fcb = add(p + "mlp.fc.bias", {4 * C}, 4 * C, 1, false, false);
    b.mprojw = add(p + "mlp.proj.weight", {C, 4 * C}, C, 4 * C, true, false);
    b.mprojb = add(p + "mlp.proj.bias", {C}, C, 1, false, false);
    blocks.push_back(b);
  }
  lnfw = add("lnf.weight", {C}, C, 1, false, false);
  lnfb = add("lnf.bias", {C}, C, 1, false, false);
}

const TensorInfo& ParamLayout::find(const std::string& name) const {
  for (const auto& t : tensors_)
    if (t.name == name) return t;
  throw Error("no parameter named '" + name + "'");
}

long ParamLayout::file_row(const TensorInfo& t, long r) const {
  if (!t.qkv) return r;
  const long hs = m_.hs(), C = m_.C;
  const long h = r / (3 * hs), s = (r / hs) % 3, d = r % hs;  // internal row = h*3hs + s*hs + d
  return s * C + h * hs + d;                                   // file row = s*C + h*hs + d
}

long ParamLayout::file_size(const TensorInfo& t) const {
  long n = 1;
  for (long d : t.file_shape) n *= d;
  return n;
}

void ParamLayout::to_file(const TensorInfo& t, const float* internal, float* file) const {
  const long file_rows = file_size(t) / t.cols;
  for (long r = 0; r < file_rows; ++r) {
    const long fr = file_row(t, r);
    std::copy(internal + r * t.cols, internal + (r + 1) * t.cols, file + fr * t.cols);
  }
}

void ParamLayout::from_file(const TensorInfo& t, const float* file, float* internal) const {
  const long file_rows = file_size(t) / t.cols;
  for (long r = 0; r < t.rows; ++r) {
    float* dst = internal + r * t.cols;
    if (r < file_rows)
      std::copy(file + file_row(t, r) * t.cols, file + (file_row(t, r) + 1) * t.cols, dst);
    else
      std::fill(dst, dst + t.cols, 0.0f);
  }
}

}  // namespace parity
