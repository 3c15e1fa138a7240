#include "reference/tied_embedding.hpp"

#include <algorithm>

namespace parity {

namespace {
constexpr int kTagTied = 3;  // after the pipeline's activation (1) and gradient (2) tags
}

TiedEmbedding::TiedEmbedding(const LocalLayout& lay, const Ownership& own) : spec_(lay.spec()) {
  const long W = lay.wte >= 0 ? lay.vocab_rows * lay.full().model().C : 0;  // wte is the first local tensor
  for (const Range& r : own.ranges)
    if (r.lo < W) mine_ = {r.lo, std::min(r.hi, W)};
  if (spec_.pp > 1) exchange_.resize(mine_.size());
}

void TiedEmbedding::sum(float* grads, const float* embed, Communicator& pipe) {
  const long n = mine_.size();
  if (n == 0) return;
  float* head = grads + mine_.lo;
  if (spec_.pp == 1) {
    add_into(head, embed + mine_.lo, n);
    return;
  }
  const int other = spec_.first() ? spec_.pp - 1 : 0;
  const float* send = spec_.first() ? embed + mine_.lo : head;
  auto req = pipe.isend(send, n, other, kTagTied);
  pipe.recv(exchange_.data(), n, other, kTagTied);
  req->wait();
  const float* hp = spec_.first() ? exchange_.data() : head;
  const float* ep = spec_.first() ? embed + mine_.lo : exchange_.data();
  copy(head, hp, n);  // head = hp + ep (hp may be head itself)
  add_into(head, ep, n);
}

}  // namespace parity
