#include "reference/run_definition.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "kernels/error.hpp"
#include "reference/fault_injection.hpp"

namespace parity {

namespace {
constexpr long long kBig = 1LL << 40;

long long parse_integer(const std::string& t, long long lo, long long hi, const std::string& flag) {
  char* end = nullptr;
  errno = 0;
  const long long v = t.empty() ? 0 : std::strtoll(t.c_str(), &end, 10);
  if (t.empty() || *end != '\0' || errno == ERANGE || v < lo || v > hi)
    throw Error(flag + " must be a whole number in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got '" +
                t + "'");
  return v;
}

double parse_real(const std::string& t, double lo, double hi, bool open_lo, const std::string& flag) {
  char* end = nullptr;
  errno = 0;
  const double v = t.empty() ? 0 : std::strtod(t.c_str(), &end);
  const bool low_ok = open_lo ? v > lo : v >= lo;
  if (t.empty() || *end != '\0' || !std::isfinite(v) || !low_ok || v > hi) {
    char range[96];
    std::snprintf(range, sizeof range, "%c%g, %g]", open_lo ? '(' : '[', lo, hi);
    throw Error(flag + " must be a finite number in " + range + ", got '" + t + "'");
  }
  return v;
}

std::string format_double(double v) {
  char buf[64];
  for (int digits = 6; digits <= 17; ++digits) {
    std::snprintf(buf, sizeof buf, "%.*g", digits, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

// The field makers: `at` returns a reference to the field's member in a TrainConfig.
template <class T>
using Access = T& (*)(TrainConfig&);

template <class T>
T& read(Access<T> at, const TrainConfig& c) { return at(const_cast<TrainConfig&>(c)); }

RunField base(const char* key, const char* flag, const char* attr, const char* help, FieldKind k, FieldRole r) {
  RunField f;
  f.key = key;
  f.flag = flag;
  f.attr = attr;
  f.help = help;
  f.kind = k;
  f.role = r;
  return f;
}

template <class T>
RunField integer(const char* key, const char* flag, const char* attr, const char* help, FieldRole r, Access<T> at,
                 long long lo, long long hi) {
  RunField f = base(key, flag, attr, help, FieldKind::integer, r);
  f.get = [at](const TrainConfig& c) { return std::to_string(read(at, c)); };
  f.set = [at, lo, hi, fl = f.flag](TrainConfig& c, const std::string& t) { at(c) = static_cast<T>(parse_integer(t, lo, hi, fl)); };
  return f;
}

template <class T>
RunField real(const char* key, const char* flag, const char* attr, const char* help, FieldRole r, Access<T> at, double lo,
              double hi, bool open_lo = false) {
  RunField f = base(key, flag, attr, help, FieldKind::real, r);
  f.get = [at](const TrainConfig& c) {
    const T v = read(at, c);
    return sizeof(T) == sizeof(float) ? format_float(static_cast<float>(v)) : format_double(static_cast<double>(v));
  };
  f.set = [at, lo, hi, open_lo, fl = f.flag](TrainConfig& c, const std::string& t) {
    at(c) = static_cast<T>(parse_real(t, lo, hi, open_lo, fl));
  };
  return f;
}

RunField text(const char* key, const char* flag, const char* attr, const char* help, FieldRole r, Access<std::string> at) {
  RunField f = base(key, flag, attr, help, FieldKind::text, r);
  f.get = [at](const TrainConfig& c) { return read(at, c); };
  f.set = [at](TrainConfig& c, const std::string& t) { at(c) = t; };
  return f;
}

RunField choice(const char* key, const char* flag, const char* attr, const char* help, FieldRole r,
                std::vector<std::string> choices, std::function<std::string(const TrainConfig&)> get,
                std::function<void(TrainConfig&, const std::string&)> put) {
  RunField f = base(key, flag, attr, help, FieldKind::choice, r);
  f.choices = choices;
  f.get = std::move(get);
  f.set = [choices, put = std::move(put), fl = f.flag](TrainConfig& c, const std::string& t) {
    std::string list;
    for (const std::string& x : choices) {
      if (x == t) return put(c, t);
      list += (list.empty() ? "" : ", ") + x;
    }
    throw Error(fl + " must be one of " + list + ", got '" + t + "'");
  };
  return f;
}

// A choice among the N values of enum E, spelled as to_string spells them.
template <class E, int N>
RunField enumeration(const char* key, const char* flag, const char* attr, const char* help, FieldRole r, Access<E> at) {
  std::vector<std::string> names;
  for (int i = 0; i < N; ++i) names.push_back(to_string(static_cast<E>(i)));
  return choice(key, flag, attr, help, r, names, [at](const TrainConfig& c) { return std::string(to_string(read(at, c))); },
                [at, names](TrainConfig& c, const std::string& t) {
                  at(c) = static_cast<E>(std::find(names.begin(), names.end(), t) - names.begin());
                });
}
}  // namespace

namespace {
using R = FieldRole;

std::vector<RunField> model_fields() {
  RunField preset = base("model", "--model", "model", "model preset: tiny, small, gpt2-124m", FieldKind::text, R::model);
  preset.get = [](const TrainConfig& c) { return c.model_name; };
  preset.set = [](TrainConfig& c, const std::string& t) {
    c.model = model_preset(t);
    c.model_name = t;
  };
  std::vector<RunField> f = {preset,
      integer<long>("layers", "--layers", "layers", "override the number of layers L", R::model,
                    [](TrainConfig& c) -> long& { return c.model.L; }, 1, 1 << 20),
      integer<long>("channels", "--channels", "channels", "override the channels C", R::model,
                    [](TrainConfig& c) -> long& { return c.model.C; }, 1, 1 << 20),
      integer<long>("heads", "--heads", "heads", "override the attention heads H", R::model,
                    [](TrainConfig& c) -> long& { return c.model.H; }, 1, 1 << 16),
      integer<long>("seq_len", "--seq-len", "seq_len", "override the sequence length T", R::model,
                    [](TrainConfig& c) -> long& { return c.model.T; }, 1, 1 << 24),
      integer<long>("vocab", "--vocab", "vocab", "override the vocabulary V (padded to a multiple of 256 inside)",
                    R::model, [](TrainConfig& c) -> long& { return c.model.V; }, 2, 1 << 30)};
  for (size_t i = 1; i < f.size(); ++i) f[i].in_checkpoint = true;
  return f;
}

std::vector<RunField> training_fields() {
  std::vector<RunField> f = {
      text("data", "--data", "data", "synthetic[:V], a text file (bytes) or an llm.c token file", R::training,
           [](TrainConfig& c) -> std::string& { return c.data; }),
      integer<uint64_t>("seed", "--seed", "seed", "seed of initialisation and data", R::training,
                        [](TrainConfig& c) -> uint64_t& { return c.seed; }, 0, std::numeric_limits<int64_t>::max()),
      integer<long>("steps", "--steps", "steps", "optimizer steps", R::training,
                    [](TrainConfig& c) -> long& { return c.steps; }, 1, kBig),
      integer<long>("micro_batches", "--micro-batches", "micro_batches", "micro-batches per step (m)", R::training,
                    [](TrainConfig& c) -> long& { return c.micro_batches; }, 1, 1 << 30),
      integer<long>("micro_batch_size", "--micro-batch-size", "micro_batch_size", "sequences per micro-batch (b)",
                    R::training, [](TrainConfig& c) -> long& { return c.micro_batch_size; }, 1, 1 << 30),
      real<float>("lr", "--lr", "lr", "peak learning rate", R::training, [](TrainConfig& c) -> float& { return c.lr; }, 0, 3e38),
      integer<long>("warmup", "--warmup", "warmup", "linear warm-up steps", R::training,
                    [](TrainConfig& c) -> long& { return c.warmup; }, 0, kBig),
      real<float>("lr_min_frac", "--lr-min-frac", "lr_min_frac", "cosine decay ends at lr * this", R::training,
                  [](TrainConfig& c) -> float& { return c.lr_min_frac; }, 0, 1),
      real<float>("weight_decay", "--weight-decay", "weight_decay", "AdamW weight decay (2-D weights)", R::training,
                  [](TrainConfig& c) -> float& { return c.adam.weight_decay; }, 0, 1e6),
      real<float>("grad_clip", "--grad-clip", "grad_clip", "global gradient-norm clip, 0 = off", R::training,
                  [](TrainConfig& c) -> float& { return c.grad_clip; }, 0, 1e30)};
  for (const char* k : {"data", "seed", "micro_batches", "micro_batch_size"})
    for (RunField& x : f) x.in_checkpoint = x.in_checkpoint || x.key == k;
  return f;
}

std::vector<RunField> loss_scale_fields() {
  std::vector<RunField> f = {real<double>("loss_scale", "--loss-scale", "loss_scale_init", "fp16: initial loss scale", R::training,
                       [](TrainConfig& c) -> double& { return c.loss_scale.init; }, 0, 1e38, true),
          real<double>("loss_scale_growth", "--loss-scale-growth", "loss_scale_growth", "fp16: growth factor",
                       R::training, [](TrainConfig& c) -> double& { return c.loss_scale.growth; }, 1, 1e6),
          integer<long>("loss_scale_interval", "--loss-scale-interval", "loss_scale_interval",
                        "fp16: clean steps before growing", R::training,
                        [](TrainConfig& c) -> long& { return c.loss_scale.interval; }, 1, kBig),
          real<double>("loss_scale_backoff", "--loss-scale-backoff", "loss_scale_backoff", "fp16: back-off factor",
                       R::training, [](TrainConfig& c) -> double& { return c.loss_scale.backoff; }, 0, 1, true),
          integer<long>("loss_scale_hysteresis", "--loss-scale-hysteresis", "loss_scale_hysteresis",
                        "fp16: overflows before backing off", R::training,
                        [](TrainConfig& c) -> long& { return c.loss_scale.hysteresis; }, 1, kBig),
          real<double>("loss_scale_min", "--loss-scale-min", "loss_scale_min",
                       "fp16: minimum scale (an overflow there is an error)", R::training,
                       [](TrainConfig& c) -> double& { return c.loss_scale.min; }, 0, 1e38, true)};
  for (RunField& x : f) x.applies = [](const TrainConfig& c) { return c.precision == Precision::fp16; };
  return f;
}

std::vector<RunField> layout_fields() {
  RunField split = base("pp_split", "--pp-split", "pp_split", "layers per stage, e.g. 1,3 (default: even)",
                        FieldKind::list, R::layout);
  split.get = [](const TrainConfig& c) {
    std::string s;
    for (long n : c.pp_split) s += (s.empty() ? "" : ",") + std::to_string(n);
    return s;
  };
  split.set = [](TrainConfig& c, const std::string& t) {
    c.pp_split.clear();
    for (size_t at = 0; at <= t.size();) {
      const size_t z = std::min(t.find(',', at), t.size());
      c.pp_split.push_back(static_cast<long>(parse_integer(t.substr(at, z - at), 1, 1 << 20, "--pp-split: each count")));
      at = z + 1;
    }
  };
  RunField schedule = enumeration<ScheduleKind, 2>("schedule", "--schedule", "schedule", "pipeline schedule: gpipe or 1f1b",
                                                  R::layout, [](TrainConfig& c) -> ScheduleKind& { return c.schedule; });
  schedule.recorded = [](const TrainConfig& c) { return std::string(c.pp > 1 ? to_string(c.schedule) : "none"); };
  schedule.applies = [](const TrainConfig& c) { return c.pp > 1; };
  std::vector<RunField> f = {
      enumeration<Precision, 3>("precision", "--precision", "precision",
                                "fp32, bf16 or fp16: 16-bit compute copy, activations and GEMM inputs, fp32 "
                                "accumulation, master weights and moments",
                                R::layout, [](TrainConfig& c) -> Precision& { return c.precision; }),
      enumeration<Numerics, 2>("numerics", "--numerics", "numerics",
                               "exact (canonical order, bit-reproducible) or fast (BLAS)", R::layout,
                               [](TrainConfig& c) -> Numerics& { return c.numerics; }),
      integer<int>("dp", "--dp", "dp", "data-parallel degree", R::layout, [](TrainConfig& c) -> int& { return c.dp; }, 1, 4096),
      integer<int>("tp", "--tp", "tp", "tensor-parallel degree (Megatron-style)", R::layout,
                   [](TrainConfig& c) -> int& { return c.tp; }, 1, 4096),
      integer<int>("pp", "--pp", "pp", "pipeline-parallel degree (stages)", R::layout,
                   [](TrainConfig& c) -> int& { return c.pp; }, 1, 4096),
      split, schedule,
      integer<int>("zero", "--zero", "zero", "1: ZeRO-1, optimizer state sharded over data-parallel ranks", R::layout,
                   [](TrainConfig& c) -> int& { return c.zero; }, 0, 1)};
  f[0].in_checkpoint = f[1].in_checkpoint = true;  // precision, numerics
  return f;
}

std::vector<RunField> execution_fields() {
  return {
      integer<long>("check_consistency", "--check-consistency", "check_consistency",
                    "every N steps, check that replicas agree bit for bit (0: off)", R::execution,
                    [](TrainConfig& c) -> long& { return c.check_consistency; }, 0, kBig),
      real<double>("comm_timeout", "--comm-timeout", "",
                   "seconds one rank waits on another (a skipped collective, a stalled or dead rank) before the run "
                   "ends with an error naming both (0: wait forever)", R::execution,
                   [](TrainConfig& c) -> double& { return c.comm_timeout; }, 0, 1e7),
      integer<int>("threads", "--threads", "threads_per_rank",
                   "threads per rank for the host loops and BLAS (the results do not depend on it)", R::execution,
                   [](TrainConfig& c) -> int& { return c.threads; }, 1, 1024),
      enumeration<Target, 2>("target", "--target", "kernel_target",
                             "where the kernels run: host (CPU kernels) or device (Kokkos's default execution space, "
                             "the GPU in the CUDA build); exact results are the same bits",
                             R::execution, [](TrainConfig& c) -> Target& { return c.target; }),
      enumeration<CommKind, 2>("comm", "--comm", "communicator",
                               "communicator for tensors: mpi (host-staged; ranks may share a GPU) or nccl (CUDA "
                               "build, --target device, one GPU per rank); exact results are the same bits",
                               R::execution, [](TrainConfig& c) -> CommKind& { return c.comm; })};
}

std::vector<RunField> output_fields() {
  std::vector<RunField> f = {
      text("checkpoint_out", "--checkpoint-out", "",
           "write a checkpoint (HDF5) at the end and every --save-every; {step} in the name is replaced by the step",
           R::output, [](TrainConfig& c) -> std::string& { return c.checkpoint_out; }),
      integer<long>("save_every", "--save-every", "", "checkpoint every N steps (0: only at the end)", R::output,
                    [](TrainConfig& c) -> long& { return c.save_every; }, 0, kBig),
      text("resume", "--resume", "", "continue from a checkpoint (bit for bit)", R::output,
           [](TrainConfig& c) -> std::string& { return c.resume; }),
      text("results", "--results", "", "write per-step results (HDF5)", R::output,
           [](TrainConfig& c) -> std::string& { return c.results; }),
      text("dump_grads", "--dump-grads", "", "write the gradients of step --dump-step (HDF5)", R::output,
           [](TrainConfig& c) -> std::string& { return c.dump_grads; }),
      integer<long>("dump_step", "--dump-step", "", "1-based step whose gradients --dump-grads writes", R::output,
                    [](TrainConfig& c) -> long& { return c.dump_step; }, 0, kBig)};
  RunField quiet = base("quiet", "--quiet", "", "no per-step lines", FieldKind::flag, R::output);
  quiet.get = [](const TrainConfig& c) { return std::string(c.quiet ? "true" : "false"); };
  quiet.set = [](TrainConfig& c, const std::string& t) { c.quiet = t != "false"; };
  f.push_back(quiet);
  return f;
}

std::vector<RunField> testing_fields() {
  RunField overflow = text("inject_overflow", "--inject-overflow", "", "testing: STEP:RANK puts an inf into one gradient",
                           R::testing, [](TrainConfig& c) -> std::string& { return c.inject_overflow; });
  overflow.set = [](TrainConfig& c, const std::string& t) {
    FaultInjection::parse(t, "");
    c.inject_overflow = t;
  };
  RunField bitflip = text("inject_bitflip", "--inject-bitflip", "", "testing: STEP:RANK:TENSOR flips one bit",
                          R::testing, [](TrainConfig& c) -> std::string& { return c.inject_bitflip; });
  bitflip.set = [](TrainConfig& c, const std::string& t) {
    FaultInjection::parse("", t);
    c.inject_bitflip = t;
  };
  RunField stall = text("inject_stall", "--inject-stall", "", "testing: STEP:RANK stops one rank (timeout test)",
                        R::testing, [](TrainConfig& c) -> std::string& { return c.inject_stall; });
  stall.set = [](TrainConfig& c, const std::string& t) {
    FaultInjection::parse("", "", t);
    c.inject_stall = t;
  };
  return {overflow, bitflip, stall};
}

std::vector<RunField> make_fields() {
  std::vector<RunField> all;
  for (auto part : {model_fields, training_fields, loss_scale_fields, layout_fields, execution_fields, output_fields,
                    testing_fields}) {
    std::vector<RunField> f = part();
    all.insert(all.end(), f.begin(), f.end());
  }
  return all;
}
}  // namespace

std::string format_float(float v) {
  char buf[64];
  for (int digits = 6; digits <= 9; ++digits) {
    std::snprintf(buf, sizeof buf, "%.*g", digits, static_cast<double>(v));
    if (std::strtof(buf, nullptr) == v) break;
  }
  return buf;
}

const std::vector<RunField>& run_fields() {
  static const std::vector<RunField> fields = make_fields();
  return fields;
}

const RunField* find_field(const std::string& key) {
  for (const RunField& f : run_fields())
    if (f.key == key) return &f;
  return nullptr;
}

std::vector<std::pair<std::string, AttrValue>> recorded_attrs(const TrainConfig& c) {
  std::vector<std::pair<std::string, AttrValue>> a;
  for (const RunField& f : run_fields()) {
    if (f.attr.empty()) continue;
    const std::string v = f.record(c);
    if (f.kind == FieldKind::integer) a.emplace_back(f.attr, static_cast<int64_t>(std::stoll(v)));
    else if (f.kind == FieldKind::real) a.emplace_back(f.attr, std::stod(v));
    else a.emplace_back(f.attr, v);
  }
  return a;
}

std::vector<std::string> definition_args(const TrainConfig& c, const std::vector<std::string>& except) {
  std::vector<std::string> a;
  const TrainConfig defaults;
  for (const RunField& f : run_fields()) {
    if (f.role == FieldRole::output || f.role == FieldRole::testing || !f.applies_to(c)) continue;
    if (std::find(except.begin(), except.end(), f.flag) != except.end()) continue;
    const std::string v = f.get(c);
    if (f.kind == FieldKind::list && v.empty()) continue;
    if (f.role == FieldRole::execution && v == f.get(defaults)) continue;
    a.push_back(f.flag);
    a.push_back(v);
  }
  return a;
}

std::string layout_id(const TrainConfig& c) {
  return "dp" + std::to_string(c.dp) + "-tp" + std::to_string(c.tp) + "-pp" + std::to_string(c.pp) +
         (c.pp > 1 ? std::string("-") + to_string(c.schedule) : std::string()) + (c.zero ? "-z" + std::to_string(c.zero) : std::string());
}

std::string run_id(const TrainConfig& c) {
  return "dp" + std::to_string(c.dp) + "-tp" + std::to_string(c.tp) + "-pp" + std::to_string(c.pp) + "-" +
         to_string(c.precision) + "-" + to_string(c.numerics) +
         (c.pp > 1 ? std::string("-") + to_string(c.schedule) : std::string()) +
         (c.zero ? "-z" + std::to_string(c.zero) : std::string());
}

}  // namespace parity
