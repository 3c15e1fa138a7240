#include "reference/schedule.hpp"

#include <vector>

namespace parity {

const char* to_string(ScheduleKind k) { return k == ScheduleKind::gpipe ? "gpipe" : "1f1b"; }

Schedule make_schedule(ScheduleKind k, int pp, int stage, long m) {
  if (pp == 1) return schedule_1f1b(1, 0, m);  // one stage: F and B alternate in one slot, whatever the kind
  return k == ScheduleKind::gpipe ? schedule_gpipe(pp, stage, m) : schedule_1f1b(pp, stage, m);
}

std::string check_schedule(const Schedule& s, long m) {
  std::vector<int> state(m, 0);  // 0 not started, 1 forward done, 2 backward done
  std::vector<long> slot_owner(s.slots > 0 ? s.slots : 0, -1);
  if (s.slots < 1) return "no activation slot";
  long next_backward = 0, in_flight = 0;
  for (const PipeOp& op : s.ops) {
    const std::string what = std::string(op.forward ? "F" : "B") + std::to_string(op.mb);
    if (op.mb < 0 || op.mb >= m) return what + ": micro-batch out of range";
    if (op.forward) {
      if (state[op.mb] != 0) return what + ": forward run twice";
      if (++in_flight > s.slots) return what + ": more than " + std::to_string(s.slots) + " micro-batches in flight";
      long& owner = slot_owner[op.mb % s.slots];
      if (owner >= 0) return what + ": slot " + std::to_string(op.mb % s.slots) + " still holds micro-batch " + std::to_string(owner);
      owner = op.mb;
      state[op.mb] = 1;
    } else {
      if (state[op.mb] != 1) return what + ": backward before its forward, or twice";
      if (op.mb != next_backward) return what + ": backward out of micro-batch order";
      ++next_backward;
      --in_flight;
      slot_owner[op.mb % s.slots] = -1;
      state[op.mb] = 2;
    }
  }
  for (long i = 0; i < m; ++i)
    if (state[i] != 2) return "micro-batch " + std::to_string(i) + " never finishes its backward";
  return {};
}

}  // namespace parity
