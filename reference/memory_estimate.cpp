#include "reference/memory_estimate.hpp"

#include <unistd.h>

#include <cstdio>

#include "kernels/error.hpp"

namespace parity {

MemoryBound memory_lower_bound(const TrainConfig& c) {
  const ModelConfig& m = c.model;
  const double L = double(m.L), C = double(m.C), H = double(m.H), T = double(m.T), V = double(m.V);
  const double b = double(c.micro_batch_size), tp = c.tp, pp = c.pp;
  const double P = V * C + T * C + L * (12 * C * C + 13 * C) + 2 * C;
  const double share = P / (tp * pp);
  MemoryBound mb;
  mb.state_bytes = 4 * share * (2 + 2.0 / (c.zero ? double(c.dp) : 1.0));
  mb.activation_bytes = 4 * b * (L / pp) * (15 * T * C / tp + (H / tp) * T * T) + 4 * b * T * V / tp;
  return mb;
}

double physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? double(pages) * double(page) : 0.0;
}

void check_memory(const TrainConfig& c, double available) {
  if (c.target != Target::host) return;
  if (available <= 0) available = physical_memory_bytes();
  const MemoryBound mb = memory_lower_bound(c);
  if (available <= 0 || mb.total() <= available) return;
  char msg[320];
  std::snprintf(msg, sizeof msg,
                "this run needs at least %.3g GiB per rank (parameters, gradients and Adam moments %.3g GiB, the "
                "activations of one micro-batch %.3g GiB), more than this machine's %.3g GiB: use smaller "
                "dimensions, a smaller --micro-batch-size, or more --tp/--pp ranks",
                mb.total() / 1073741824.0, mb.state_bytes / 1073741824.0, mb.activation_bytes / 1073741824.0,
                available / 1073741824.0);
  throw Error(msg);
}

}  // namespace parity
