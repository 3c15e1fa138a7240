// One typed definition of a run: the table of TrainConfig's fields that drives `parity train`'s flags
// (harness/cmd_train.cpp), the keys of a sweep spec (harness/spec*.cpp), the arguments a sweep passes to
// `parity train`, the HDF5 attributes of results and checkpoints (docs/hdf5-schema.md) and the run id. A
// field is named once here; every other place iterates the table.
#pragma once
#include <functional>
#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "reference/train_config.hpp"

namespace parity {

enum class FieldKind { integer, real, text, choice, list, flag };

enum class FieldRole {
  model,      // the model's dimensions (preset, then overrides)
  training,   // data, steps, batch, optimizer, loss scaling: what must be equal for runs to be compared
  layout,     // the parallel layout, precision and numerics: what a sweep varies
  execution,  // how the run executes (threads, kernel target, communicator, checks): not its numbers
  output,     // files written or read, and what is printed
  testing     // injected faults (hidden from --help)
};

struct RunField {
  std::string key;   // sweep-spec key ("micro_batches")
  std::string flag;  // `parity train` flag ("--micro-batches")
  std::string attr;  // HDF5 attribute of a results run group ("micro_batches"); "" = not recorded
  std::string help;
  FieldKind kind;
  FieldRole role;
  bool in_checkpoint = false;  // recorded in a checkpoint and checked on --resume
  std::vector<std::string> choices;  // FieldKind::choice
  std::function<std::string(const TrainConfig&)> get;  // canonical text: reads back to the same value
  // Parses and range-checks text into c; throws parity::Error "--flag: ..." with the accepted range.
  std::function<void(TrainConfig&, const std::string&)> set;
  // How the field is recorded in results, when that differs from get (the schedule at pp = 1: "none").
  std::function<std::string(const TrainConfig&)> recorded;
  std::string record(const TrainConfig& c) const { return recorded ? recorded(c) : get(c); }
  // Whether the field means anything for c (the schedule only with pp > 1, the loss scaler only in fp16);
  // unset: always.
  std::function<bool(const TrainConfig&)> applies;
  bool applies_to(const TrainConfig& c) const { return !applies || applies(c); }
};

// In the order in which they are applied (the model preset before the dimensions that override it).
const std::vector<RunField>& run_fields();
const RunField* find_field(const std::string& key);  // by spec key; null if none

// The HDF5 attributes that record c (every field with an attribute name): integers as int64, reals as
// double, the rest as strings, in table order.
using AttrValue = std::variant<std::string, int64_t, double>;
std::vector<std::pair<std::string, AttrValue>> recorded_attrs(const TrainConfig& c);

// `parity train` arguments that define c: every field of roles model, training and layout that applies to c
// (a list only when not empty), and the execution fields whose value is not TrainConfig's default; the flags
// in `except` are left out.
std::vector<std::string> definition_args(const TrainConfig& c, const std::vector<std::string>& except = {});

// The run's identifier inside result files, e.g. "dp2-tp2-pp2-fp32-exact-1f1b-z1", and its layout part
// "dp2-tp2-pp2-1f1b-z1" (no precision, no numerics), for messages.
std::string run_id(const TrainConfig& c);
std::string layout_id(const TrainConfig& c);

// The shortest decimal that reads back as the same float.
std::string format_float(float v);

}  // namespace parity
