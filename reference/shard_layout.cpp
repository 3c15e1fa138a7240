#include "reference/shard_layout.hpp"

#include <numeric>

#include "kernels/error.hpp"

namespace parity {

long LocalLayout::add(const TensorInfo& t, Split split) {
  LocalTensor lt;
  lt.global = &t;
  lt.split = split;
  lt.rows = t.rows;
  lt.cols = t.cols;
  if (split == Split::rows) {
    lt.rows = t.rows / spec_.tp;
    lt.row0 = lt.rows * spec_.tp_rank;
  } else if (split == Split::cols) {
    lt.cols = t.cols / spec_.tp;
    lt.col0 = lt.cols * spec_.tp_rank;
  }
  lt.size = lt.rows * lt.cols;
  lt.offset = total_;
  total_ += lt.size;
  tensors_.push_back(lt);
  return lt.offset;
}

LocalLayout::LocalLayout(const ParamLayout& full, const StageSpec& spec) : full_(full), spec_(spec) {
  const auto& T = full.tensors();
  auto tensor_at = [&](long offset) -> const TensorInfo& {
    for (const auto& t : T)
      if (t.offset == offset) return t;
    throw Error("internal: no tensor at offset " + std::to_string(offset));
  };
  if (spec.first() || spec.last()) {
    wte = add(tensor_at(full.wte), Split::rows);
    vocab_rows = tensors_.back().rows;
    vocab_lo = tensors_.back().row0;
  }
  if (spec.first()) wpe = add(tensor_at(full.wpe), Split::none);
  for (long l = spec.layer_lo; l < spec.layer_hi; ++l) {
    const BlockOffsets& g = full.blocks[l];
    BlockOffsets b;
    b.ln1w = add(tensor_at(g.ln1w), Split::none);
    b.ln1b = add(tensor_at(g.ln1b), Split::none);
    b.qkvw = add(tensor_at(g.qkvw), Split::rows);
    b.qkvb = add(tensor_at(g.qkvb), Split::rows);
    b.projw = add(tensor_at(g.projw), Split::cols);
    b.projb = add(tensor_at(g.projb), Split::none);
    b.ln2w = add(tensor_at(g.ln2w), Split::none);
    b.ln2b = add(tensor_at(g.ln2b), Split::none);
    b.fcw = add(tensor_at(g.fcw), Split::rows);
    b.fcb = add(tensor_at(g.fcb), Split::rows);
    b.mprojw = add(tensor_at(g.mprojw), Split::cols);
    b.mprojb = add(tensor_at(g.mprojb), Split::none);
    blocks.push_back(b);
  }
  if (spec.last()) {
    lnfw = add(tensor_at(full.lnfw), Split::none);
    lnfb = add(tensor_at(full.lnfb), Split::none);
  }
}

const LocalTensor* LocalLayout::find(const std::string& name) const {
  for (const auto& t : tensors_)
    if (t.global->name == name) return &t;
  return nullptr;
}

std::vector<long> stage_layers(long L, int pp, const std::vector<long>& explicit_split) {
  if (!explicit_split.empty()) {
    if (static_cast<int>(explicit_split.size()) != pp)
      throw Error("--pp-split lists " + std::to_string(explicit_split.size()) + " stages, but --pp is " +
                  std::to_string(pp));
    for (long n : explicit_split)
      if (n < 1) throw Error("--pp-split: every stage needs at least one layer");
    if (std::accumulate(explicit_split.begin(), explicit_split.end(), 0L) != L)
      throw Error("--pp-split does not add up to the model's " + std::to_string(L) + " layers");
    return explicit_split;
  }
  if (L % pp != 0)
    throw Error(std::to_string(L) + " layers do not split evenly over --pp " + std::to_string(pp) +
                " stages (give --pp-split, or a pp that divides L)");
  return std::vector<long>(pp, L / pp);
}

}  // namespace parity
