// Pipeline schedules: the order in which one stage runs the forward (F) and backward (B) passes of its
// micro-batches. Both schedules run the backward passes in increasing micro-batch order, so the micro-batch
// gradient tree is fed in index order whatever the schedule.
#pragma once
#include <string>
#include <vector>

namespace parity {

struct PipeOp {
  bool forward;
  long mb;  // local micro-batch index
};

// GPipe: all m forwards, then all m backwards. Activations of all m micro-batches are alive at once.
std::vector<PipeOp> schedule_gpipe(int pp, int stage, long m);

// 1F1B (PipeDream-flush): pp - stage - 1 warm-up forwards, then one forward / one backward alternately,
// then the remaining backwards. At most pp - stage micro-batches are in flight on a stage.
std::vector<PipeOp> schedule_1f1b(int pp, int stage, long m);

// Activation slots a stage needs under the schedule ("gpipe" or "1f1b").
long schedule_slots(const std::string& schedule, int pp, int stage, long m);

// The theoretical bubble fraction (p - 1) / (m + p - 1) of both schedules.
inline double theoretical_bubble(int pp, long m) { return static_cast<double>(pp - 1) / (m + pp - 1); }

}  // namespace parity
