// Everything that defines a training run. The micro-batch count and size are part of the run's definition:
// layouts are only compared at equal values (docs/design.md, canonical order rule 1).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/adamw.hpp"
#include "kernels/comm/comm_kind.hpp"
#include "kernels/target.hpp"
#include "kernels/gemm.hpp"
#include "kernels/precision.hpp"
#include "reference/loss_scaler.hpp"
#include "reference/model_config.hpp"
#include "reference/schedule.hpp"

namespace parity {

struct TrainConfig {
  std::string model_name = "tiny";
  ModelConfig model = {4, 128, 4, 64, 256};
  std::string data = "synthetic";
  uint64_t seed = 1;
  long steps = 20;
  long micro_batches = 1;      // m, a power of two in exact mode
  long micro_batch_size = 4;   // b sequences per micro-batch
  float lr = 3e-4f;
  long warmup = 0;             // steps of linear warm-up
  float lr_min_frac = 0.1f;    // cosine decay ends at lr * lr_min_frac
  float grad_clip = 1.0f;      // global-norm clipping; 0 disables
  AdamWConfig adam;
  Precision precision = Precision::fp32;
  LossScaleConfig loss_scale;      // fp16 only
  Numerics numerics = Numerics::exact;
  std::string checkpoint_out, resume, results, dump_grads;
  long save_every = 0;
  long dump_step = 0;          // 1-based step whose gradients --dump-grads writes
  bool quiet = false;
  int threads = 1;             // threads per rank (host loops and BLAS); the bits do not depend on it
  // Where the layer kernels, the micro-batch tree and the optimizer run: "host" (the CPU kernels) or
  // "device" (Kokkos's default execution space: the GPU in the CUDA build). Exact bits are the same.
#if defined(PARITY_HAVE_CUDA)
  Target target = Target::device;
#else
  Target target = Target::host;
#endif

  // The data groups' communicator (kernels/comm/comm_kind.hpp); nccl needs --target device.
  CommKind comm = CommKind::mpi;

  // Parallel layout: world = dp * tp * pp ranks (TP innermost, then DP, then PP).
  int dp = 1, tp = 1, pp = 1;
  std::vector<long> pp_split;  // layers per stage; empty = even
  ScheduleKind schedule = ScheduleKind::one_f_one_b;
  int zero = 0;                // 0 or 1 (ZeRO-1: optimizer state sharded over DP)
  long check_consistency = 0;  // every N steps; 0 = off
  double comm_timeout = 600;   // seconds a rank waits on another before the run ends with an error; 0 = forever
  std::string inject_bitflip;  // testing: "STEP:RANK:TENSOR" flips one bit of that tensor on that rank
  std::string inject_overflow; // testing: "STEP:RANK" puts an inf into that rank's gradient at that step
  std::string inject_stall;    // testing: "STEP:RANK" stops that rank at the start of that step

  long tokens_per_step() const { return micro_batches * micro_batch_size * model.T; }
};

// Refuses configurations that cannot run, naming the problem (parity::Error): bad dimensions, and in exact
// mode the layouts that cannot reproduce the single-device bits (docs/design.md, "Supported layouts in exact
// mode").
void validate(const TrainConfig& c);

// Learning rate for 0-based step s: linear warm-up over `warmup` steps, then cosine decay to lr*lr_min_frac.
float learning_rate(const TrainConfig& c, long s);

}  // namespace parity
