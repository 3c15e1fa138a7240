#include "reference/schedule.hpp"

namespace parity {

Schedule schedule_gpipe(int, int, long m) {
  Schedule s;
  for (long i = 0; i < m; ++i) s.ops.push_back({true, i});
  for (long i = 0; i < m; ++i) s.ops.push_back({false, i});
  s.slots = m;
  return s;
}

}  // namespace parity
