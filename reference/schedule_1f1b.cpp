#include "reference/schedule.hpp"

#include <algorithm>

namespace parity {

std::vector<PipeOp> schedule_1f1b(int pp, int stage, long m) {
  const long warmup = std::min<long>(pp - stage - 1, m);
  std::vector<PipeOp> ops;
  for (long i = 0; i < warmup; ++i) ops.push_back({true, i});
  for (long i = 0; i < m - warmup; ++i) {
    ops.push_back({true, warmup + i});
    ops.push_back({false, i});
  }
  for (long i = m - warmup; i < m; ++i) ops.push_back({false, i});
  return ops;
}

}  // namespace parity
