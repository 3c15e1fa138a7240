// The figures of the scaling table, per run that finished: throughput and speed-up against a 1-rank run, MFU
// against the chosen peak, the comm and pipeline idle shares, and the theoretical bubble. The trainer's own
// figures (theoretical_bubble, idle_fraction, stage_idle) are taken as recorded; only files written before it
// recorded them get the report's fallbacks, which are marked as computed.
#pragma once
#include <vector>

#include "harness/report.hpp"

namespace parity::report {

struct Scaling {
  const Run* run = nullptr;
  const Run* base = nullptr;  // 1-rank run it is measured against
  double tps, speedup, efficiency, flops, peak, mfu, comm, idle, bubble;
  bool bubble_computed = false;  // the file did not record theoretical_bubble; the report computed it
  int measured_steps = 0;
  Scaling();
};

// (p-1)/(m_local+p-1): the share of a GPipe or 1F1B step a stage idles with m_local micro-batches per pipeline
// (each data-parallel replica runs its own pipeline over m/dp of the m micro-batches). 0 for p = 1.
double theoretical_bubble(double pp, double m_local);

// Every run that finished with throughput data, in row order.
std::vector<Scaling> scaling_rows(const Sweep& s, const Peak& peak);

}  // namespace parity::report
