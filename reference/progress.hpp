// What `parity train` prints on world rank 0 (nothing with --quiet): a header naming the run, one line
// per step, a line per skipped fp16 step, and the pipeline's idle shares against the theoretical bubble.
#pragma once
#include <string>

#include "reference/train_config.hpp"
#include "reference/trainer.hpp"

namespace parity {

void print_header(const TrainConfig& c, const std::string& data);
void print_step(const TrainConfig& c, const StepRecord& r);
void print_skipped(const TrainConfig& c, long step, float used_scale, double new_scale);
void print_pipeline(const TrainConfig& c, const TrainResult& r);

}  // namespace parity
