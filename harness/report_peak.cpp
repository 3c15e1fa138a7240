// The peak the MFU column is measured against. It is given (--peak-gflops), measured by the sweep (the merged
// file's root peak_gflops) or recorded with each run (the trainer's estimate for its machine, provenance's
// peak_gflops / peak_source); the report never assumes one, and says which it used.
#include <cmath>
#include <limits>
#include <set>

#include "harness/report.hpp"
#include "harness/report_format.hpp"
#include "harness/report_runs.hpp"

namespace parity::report {
namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

bool known(double gflops) { return gflops > 0 && std::isfinite(gflops); }

Peak given(Peak::Source source, double gflops, const std::string& note) {
  Peak p;
  p.source = source;
  p.gflops = gflops;
  p.note = note;
  return p;
}

Peak unknown() {
  return given(Peak::Source::none, kNaN,
               "peak: unknown (no --peak-gflops, and the file records no peak_gflops), so MFU is not computed; pass "
               "--peak-gflops X, the machine's peak GFLOP/s per rank");
}

// The runs' own estimates: one sentence for one estimate, a range when the runs ran on different machines.
Peak recorded(const Sweep& s) {
  std::set<double> values;
  std::set<std::string> sources;
  size_t without = 0;
  for (const Run& r : s.runs) {
    if (!ran_ok(r) || std::isnan(median_tokens_per_second(r))) continue;  // not in the scaling table
    if (!known(r.peak_gflops)) {
      ++without;
      continue;
    }
    values.insert(r.peak_gflops);
    sources.insert(r.peak_source.empty() ? "how, not recorded" : r.peak_source);
  }
  if (values.empty()) return unknown();
  std::string note = "peak: ";
  if (values.size() == 1 && sources.size() == 1)
    note += g3(*values.begin()) + " GFLOP/s per rank, recorded with the runs (" + *sources.begin() + ")";
  else
    note += "each run's own, recorded with it (" + g3(*values.begin()) + " to " + g3(*values.rbegin()) +
            " GFLOP/s per rank; peak_gflops in scaling.csv)";
  if (without > 0)
    note += "; " + std::to_string(without) + (without == 1 ? " run records" : " runs record") + " none (no MFU)";
  return given(Peak::Source::recorded, kNaN, note + "; --peak-gflops X overrides it");
}

}  // namespace

Peak::Peak() : gflops(kNaN) {}

Peak choose_peak(const Sweep& s, double cli_gflops) {
  if (cli_gflops > 0)
    return given(Peak::Source::flag, cli_gflops, "peak: " + g3(cli_gflops) + " GFLOP/s per rank (--peak-gflops)");
  if (known(s.peak_gflops))
    return given(Peak::Source::measured, s.peak_gflops,
                 "peak: " + g3(s.peak_gflops) + " GFLOP/s per rank (measured, from the file)");
  return recorded(s);
}

double peak_of(const Peak& p, const Run& r) {
  switch (p.source) {
    case Peak::Source::flag:
    case Peak::Source::measured: return p.gflops;
    case Peak::Source::recorded: return known(r.peak_gflops) ? r.peak_gflops : kNaN;
    case Peak::Source::none: break;
  }
  return kNaN;
}

}  // namespace parity::report
