// Per-run results in HDF5 (docs/hdf5-schema.md, "Results"): /runs/<run-id> with the run's definition and
// provenance as attributes and one dataset per per-step quantity. The sweep merges such files into one.
#pragma once
#include <string>
#include <vector>

#include "reference/train_config.hpp"
#include "reference/trainer.hpp"

namespace parity {

// The run's definition, provenance, per-step records and pipeline figures (theoretical_bubble,
// idle_fraction, stage_idle) under /runs/<run_id>.
void write_results(const std::string& path, const TrainConfig& c, const std::string& run_id, const TrainResult& r);

}  // namespace parity
