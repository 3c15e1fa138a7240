#include <algorithm>

#include "reference/schedule.hpp"

namespace parity {

Schedule schedule_1f1b(int pp, int stage, long m) {
  const long warmup = std::min<long>(pp - stage - 1, m);
  Schedule s;
  for (long i = 0; i < warmup; ++i) s.ops.push_back({true, i});
  for (long i = 0; i < m - warmup; ++i) {
    s.ops.push_back({true, warmup + i});
    s.ops.push_back({false, i});
  }
  for (long i = m - warmup; i < m; ++i) s.ops.push_back({false, i});
  s.slots = std::min<long>(m, pp - stage);
  return s;
}

}  // namespace parity
