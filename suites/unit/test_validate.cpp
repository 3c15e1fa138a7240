// reference/train_config.cpp: validate(TrainConfig) refuses what cannot run, naming the problem. Each
// refusal is tested from a valid configuration with one thing changed, and checked by the words of its
// message (case-insensitive), not the exact text: the flag it names and the reason.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <string>

#include "kernels/error.hpp"
#include "reference/run_definition.hpp"
#include "reference/train_config.hpp"

namespace parity {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// validate(c) throws parity::Error whose message contains every word.
::testing::AssertionResult refused(const TrainConfig& c, std::initializer_list<const char*> words) {
  try {
    validate(c);
  } catch (const Error& e) {
    const std::string what = lower(e.what());
    for (const char* w : words)
      if (what.find(lower(w)) == std::string::npos)
        return ::testing::AssertionFailure() << "the message '" << e.what() << "' lacks '" << w << "'";
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "validate accepted the configuration";
}

::testing::AssertionResult accepted(const TrainConfig& c) {
  try {
    validate(c);
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "refused: " << e.what();
  }
  return ::testing::AssertionSuccess();
}

// A valid starting point: tiny, 4 steps, 4 x 2 micro-batches, fp32 exact, one device, host kernels.
TrainConfig base() {
  TrainConfig c;
  c.steps = 4;
  c.micro_batches = 4;
  c.micro_batch_size = 2;
  c.target = Target::host;
  return c;
}

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

TEST(Validate, AcceptsValidConfigurations) {
  EXPECT_TRUE(accepted(TrainConfig{}));
  EXPECT_TRUE(accepted(base()));

  TrainConfig c = base();  // a 3-D layout with everything switched on
  c.dp = 2;
  c.tp = 2;
  c.pp = 2;
  c.zero = 1;
  c.schedule = ScheduleKind::gpipe;
  c.check_consistency = 1;
  c.precision = Precision::fp16;
  c.warmup = 2;
  c.lr_min_frac = 0.0f;
  c.grad_clip = 0.0f;
  c.checkpoint_out = "ck.h5";
  c.save_every = 2;
  c.results = "r.h5";
  c.dump_grads = "g.h5";
  c.dump_step = 4;
  c.threads = 1024;
  EXPECT_TRUE(accepted(c));

  c = base();  // fast numerics: any micro-batch count, non-power-of-two dp and tp
  c.numerics = Numerics::fast;
  c.micro_batches = 3;
  c.dp = 3;
  c.model = {2, 384, 12, 64, 256};
  c.tp = 3;
  EXPECT_TRUE(accepted(c));

  c = base();  // --comm nccl with --target device passes validation (the build is checked later)
  c.target = Target::device;
  c.comm = CommKind::nccl;
  EXPECT_TRUE(accepted(c));

  c = base();  // tp 8 where the shapes allow it; lr 0 (a no-op step) is allowed
  c.model = {2, 256, 8, 64, 256};
  c.tp = 8;
  c.lr = 0.0f;
  c.adam.weight_decay = 0.0f;
  EXPECT_TRUE(accepted(c));
}

TEST(Validate, RefusesBadModelDimensions) {
  TrainConfig c = base();
  c.model.L = 0;
  EXPECT_TRUE(refused(c, {"model dimensions", "layers", ">= 1"}));
  c = base();
  c.model.H = 0;
  EXPECT_TRUE(refused(c, {"model dimensions", "heads", ">= 1"}));
  c = base();
  c.model.H = 3;
  EXPECT_TRUE(refused(c, {"model dimensions", "C=128", "not divisible", "H=3"}));
  c = base();
  c.model.C = 80;
  c.model.H = 4;
  EXPECT_TRUE(refused(c, {"model dimensions", "C=80", "multiple of 32"}));
  c = base();
  c.model.T = 0;
  EXPECT_TRUE(refused(c, {"model dimensions", "sequence length"}));
  c = base();
  c.model.V = 1;
  EXPECT_TRUE(refused(c, {"model dimensions", "vocabulary", ">= 2"}));
}

TEST(Validate, RefusesNonPositiveStepsAndBatches) {
  TrainConfig c = base();
  c.steps = 0;
  EXPECT_TRUE(refused(c, {"--steps", ">= 1"}));
  c = base();
  c.micro_batches = 0;
  EXPECT_TRUE(refused(c, {"--micro-batches", ">= 1"}));
  c = base();
  c.micro_batch_size = 0;
  EXPECT_TRUE(refused(c, {"--micro-batch-size", ">= 1"}));
}

// The enumerated fields (target, comm, precision, numerics, schedule) cannot hold an unknown value: a name is
// refused where it is parsed, by the run definition, with the names it accepts; a known one reads back.
TEST(Validate, RunDefinitionRefusesUnknownNames) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"target", "gpu"}, {"comm", "gloo"}, {"precision", "fp8"}, {"numerics", "approximate"}, {"schedule", "zero-bubble"}};
  for (const auto& [key, name] : bad) {
    const RunField* f = find_field(key);
    ASSERT_NE(f, nullptr) << key;
    TrainConfig c = base();
    try {
      f->set(c, name);
      ADD_FAILURE() << f->flag << " accepted '" << name << "'";
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(f->flag + " must be one of"), std::string::npos) << what;
      EXPECT_NE(what.find("'" + name + "'"), std::string::npos) << what;
      for (const std::string& ok : f->choices) EXPECT_NE(what.find(ok), std::string::npos) << what;
    }
    for (const std::string& ok : f->choices) {
      f->set(c, ok);
      EXPECT_EQ(f->get(c), ok);
    }
  }
  TrainConfig c = base();
  find_field("schedule")->set(c, "gpipe");
  find_field("precision")->set(c, "bf16");
  EXPECT_EQ(c.schedule, ScheduleKind::gpipe);
  EXPECT_EQ(c.precision, Precision::bf16);
}

TEST(Validate, RefusesNcclWithoutTheDeviceTarget) {
  TrainConfig c = base();
  c.comm = CommKind::nccl;
  c.target = Target::host;
  EXPECT_TRUE(refused(c, {"--comm nccl", "--target device"}));
}

TEST(Validate, RefusesThreadCountsOutside1To1024) {
  for (int t : {0, -1, 1025}) {
    TrainConfig c = base();
    c.threads = t;
    EXPECT_TRUE(refused(c, {"--threads", "between", "1024", std::to_string(t).c_str()})) << t;
  }
}

TEST(Validate, ExactModeRefusesANonPowerOfTwoMicroBatchCount) {
  TrainConfig c = base();
  c.micro_batches = 3;
  EXPECT_TRUE(refused(c, {"--micro-batches 3", "power of two", "exact", "--numerics fast"}));
  c.numerics = Numerics::fast;
  EXPECT_TRUE(accepted(c));
}

TEST(Validate, RefusesBadLossScaling) {
  TrainConfig c = base();
  c.loss_scale.init = 0.5;  // below the minimum 1
  EXPECT_TRUE(refused(c, {"--loss-scale", "--loss-scale-min"}));
  c = base();
  c.loss_scale.init = kInf;
  EXPECT_TRUE(refused(c, {"--loss-scale", "finite"}));
  c = base();
  c.loss_scale.min = 0;
  c.loss_scale.init = 1;
  EXPECT_TRUE(refused(c, {"--loss-scale-min", "> 0"}));
  c = base();
  c.loss_scale.growth = 0.5;
  EXPECT_TRUE(refused(c, {"--loss-scale-growth", ">= 1"}));
  for (double b : {0.0, 1.0, 1.5}) {
    c = base();
    c.loss_scale.backoff = b;
    EXPECT_TRUE(refused(c, {"--loss-scale-backoff", "(0, 1)"})) << b;
  }
  c = base();
  c.loss_scale.interval = 0;
  EXPECT_TRUE(refused(c, {"--loss-scale-interval", ">= 1"}));
  c = base();
  c.loss_scale.hysteresis = 0;
  EXPECT_TRUE(refused(c, {"--loss-scale-hysteresis", ">= 1"}));
}

TEST(Validate, RefusesZeroStagesOtherThan0And1) {
  for (int z : {-1, 2, 3}) {
    TrainConfig c = base();
    c.zero = z;
    EXPECT_TRUE(refused(c, {"--zero", "0 or 1"})) << z;
  }
}

TEST(Validate, RefusesMicroBatchesThatDoNotSplitOverDp) {
  TrainConfig c = base();
  c.micro_batches = 2;
  c.dp = 4;
  EXPECT_TRUE(refused(c, {"--micro-batches 2", "--dp 4", "split"}));
  c.numerics = Numerics::fast;  // fast mode too: each DP rank owns a contiguous range of micro-batches
  EXPECT_TRUE(refused(c, {"--micro-batches 2", "--dp 4"}));
}

TEST(Validate, RefusesTensorParallelDegreesTheShapesCannotSplit) {
  TrainConfig c = base();  // tiny: H = 4
  c.tp = 8;
  EXPECT_TRUE(refused(c, {"heads", "H=4", "--tp 8"}));
  c = base();
  c.model = {2, 128, 8, 64, 256};  // H = 8 splits, but C/8 = 16 is not whole 32-element blocks
  c.tp = 8;
  EXPECT_TRUE(refused(c, {"channels", "C=128", "--tp 8", "32-element"}));
  c = base();
  c.model = {2, 512, 16, 64, 256};  // the shapes allow 16, the padded vocabulary does not
  c.tp = 16;
  EXPECT_TRUE(refused(c, {"--tp", "at most 8"}));
}

TEST(Validate, ExactModeRefusesNonPowerOfTwoTp) {
  TrainConfig c = base();
  c.model = {2, 384, 12, 64, 256};  // H and C/32 split over 3
  c.tp = 3;
  EXPECT_TRUE(refused(c, {"exact", "powers of two", "tp 3", "--numerics fast"}));
  c.numerics = Numerics::fast;
  EXPECT_TRUE(accepted(c));
}

TEST(Validate, RefusesNegativeCountsAndRates) {
  TrainConfig c = base();
  c.check_consistency = -1;
  EXPECT_TRUE(refused(c, {"--check-consistency", ">= 0"}));
  for (float lr : {-1e-4f, kNaN, static_cast<float>(kInf)}) {
    c = base();
    c.lr = lr;
    EXPECT_TRUE(refused(c, {"--lr", "finite", ">= 0"})) << lr;
  }
  c = base();
  c.warmup = -1;
  EXPECT_TRUE(refused(c, {"--warmup", ">= 0"}));
  for (float f : {-0.1f, 1.5f}) {
    c = base();
    c.lr_min_frac = f;
    EXPECT_TRUE(refused(c, {"--lr-min-frac", "[0, 1]"})) << f;
  }
  for (float wd : {-0.1f, static_cast<float>(kInf)}) {
    c = base();
    c.adam.weight_decay = wd;
    EXPECT_TRUE(refused(c, {"--weight-decay", "finite", ">= 0"})) << wd;
  }
  c = base();
  c.grad_clip = -1.0f;
  EXPECT_TRUE(refused(c, {"--grad-clip", ">= 0"}));
  c = base();
  c.save_every = -1;
  EXPECT_TRUE(refused(c, {"--save-every", ">= 0"}));
}

TEST(Validate, RefusesOutputOptionsWithoutTheirPartner) {
  TrainConfig c = base();
  c.save_every = 2;
  EXPECT_TRUE(refused(c, {"--save-every", "--checkpoint-out"}));
  for (long k : {0L, 5L}) {  // steps = 4
    c = base();
    c.dump_grads = "g.h5";
    c.dump_step = k;
    EXPECT_TRUE(refused(c, {"--dump-grads", "--dump-step", "--steps"})) << k;
  }
  c = base();
  c.dump_step = 2;
  EXPECT_TRUE(refused(c, {"--dump-step", "--dump-grads"}));
}

TEST(Validate, RefusesOutputsThatCannotBeWritten) {
  const std::string missing = "/nonexistent-parity-dir/out.h5";
  const std::string dir = std::filesystem::temp_directory_path().string();
  for (int which = 0; which < 3; ++which) {
    for (const std::string& path : {missing, dir}) {
      TrainConfig c = base();
      std::string& out = which == 0 ? c.results : which == 1 ? c.checkpoint_out : c.dump_grads;
      out = path;
      if (which == 2) c.dump_step = 1;
      if (path == missing)
        EXPECT_TRUE(refused(c, {"cannot write", "/nonexistent-parity-dir", "does not exist"})) << which;
      else
        EXPECT_TRUE(refused(c, {"cannot write", dir.c_str(), "is a directory"})) << which;
    }
  }
}

}  // namespace
}  // namespace parity
