// Pipeline schedules as data: the order in which one stage runs the forward (F) and backward (B) passes of
// its micro-batches, and the activation slots that order needs. The pipeline executor (reference/pipeline.hpp)
// runs any such list; one device (pp = 1) is the 1F1B schedule of one stage, which alternates F and B in one
// slot. Every schedule runs the backward passes in increasing micro-batch order, so the micro-batch gradient
// tree is fed in index order whatever the schedule (docs/design.md, canonical order).
#pragma once
#include <string>
#include <vector>

namespace parity {

enum class ScheduleKind { gpipe, one_f_one_b };

const char* to_string(ScheduleKind k);  // "gpipe", "1f1b"

struct PipeOp {
  bool forward;
  long mb;  // local micro-batch index
};

struct Schedule {
  std::vector<PipeOp> ops;
  long slots = 1;  // activation slots: micro-batches whose forward has run and whose backward has not
};

// GPipe: all m forwards, then all m backwards. Activations of all m micro-batches are alive at once.
Schedule schedule_gpipe(int pp, int stage, long m);

// 1F1B (PipeDream-flush): pp - stage - 1 warm-up forwards, then one forward / one backward alternately,
// then the remaining backwards. At most pp - stage micro-batches are in flight on a stage.
Schedule schedule_1f1b(int pp, int stage, long m);

Schedule make_schedule(ScheduleKind k, int pp, int stage, long m);

// Checks a stage's op list for m micro-batches: each micro-batch runs one forward, then one backward;
// backwards in increasing micro-batch order; never more than `slots` micro-batches in flight (so the slot
// mb % slots is never reused while live). Returns the first violation, or an empty string.
std::string check_schedule(const Schedule& s, long m);

// The theoretical bubble fraction (p - 1) / (m + p - 1) of GPipe and 1F1B, m the micro-batches per pipeline.
inline double theoretical_bubble(int pp, long m) { return static_cast<double>(pp - 1) / (m + pp - 1); }

}  // namespace parity
