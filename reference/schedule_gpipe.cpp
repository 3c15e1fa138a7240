#include "reference/schedule.hpp"

#include <algorithm>

namespace parity {

std::vector<PipeOp> schedule_gpipe(int, int, long m) {
  std::vector<PipeOp> ops;
  for (long i = 0; i < m; ++i) ops.push_back({true, i});
  for (long i = 0; i < m; ++i) ops.push_back({false, i});
  return ops;
}

long schedule_slots(const std::string& schedule, int pp, int stage, long m) {
  if (schedule == "1f1b") return std::min<long>(m, pp - stage);
  return m;
}

}  // namespace parity
