// `parity train`: the reference trainer on the ranks of MPI_COMM_WORLD.
#include <array>
#include <map>
#include <memory>

#include "harness/commands.hpp"
#include "reference/trainer.hpp"

namespace parity::cli {

Command add_train(CLI::App& parent) {
  auto c = std::make_shared<TrainConfig>();
  auto dims = std::make_shared<std::array<long, 5>>();
  dims->fill(0);
  CLI::App* app = parent.add_subcommand("train", "train GPT-2 with the reference trainer");
  app->add_option("--model", c->model_name, "model preset: tiny, small, gpt2-124m")->capture_default_str();
  app->add_option("--layers", (*dims)[0], "override the number of layers L");
  app->add_option("--channels", (*dims)[1], "override the channels C");
  app->add_option("--heads", (*dims)[2], "override the attention heads H");
  app->add_option("--seq-len", (*dims)[3], "override the sequence length T");
  app->add_option("--vocab", (*dims)[4], "override the vocabulary V (padded to a multiple of 256 inside)");
  app->add_option("--data", c->data, "synthetic[:V], a text file (bytes) or an llm.c token file")->capture_default_str();
  app->add_option("--seed", c->seed, "seed of initialisation and data")->capture_default_str();
  app->add_option("--steps", c->steps, "optimizer steps")->capture_default_str();
  app->add_option("--micro-batches", c->micro_batches, "micro-batches per step (m)")->capture_default_str();
  app->add_option("--micro-batch-size", c->micro_batch_size, "sequences per micro-batch (b)")->capture_default_str();
  app->add_option("--lr", c->lr, "peak learning rate")->capture_default_str();
  app->add_option("--warmup", c->warmup, "linear warm-up steps")->capture_default_str();
  app->add_option("--lr-min-frac", c->lr_min_frac, "cosine decay ends at lr * this")->capture_default_str();
  app->add_option("--weight-decay", c->adam.weight_decay, "AdamW weight decay (2-D weights)")->capture_default_str();
  app->add_option("--grad-clip", c->grad_clip, "global gradient-norm clip, 0 = off")->capture_default_str();
  app->add_option("--precision", c->precision,
                  "fp32, bf16 or fp16: 16-bit compute copy, activations and GEMM inputs, fp32 accumulation, master "
                  "weights and moments")->capture_default_str();
  app->add_option("--loss-scale", c->loss_scale.init, "fp16: initial loss scale")->capture_default_str();
  app->add_option("--loss-scale-growth", c->loss_scale.growth, "fp16: growth factor")->capture_default_str();
  app->add_option("--loss-scale-interval", c->loss_scale.interval, "fp16: clean steps before growing")->capture_default_str();
  app->add_option("--loss-scale-backoff", c->loss_scale.backoff, "fp16: back-off factor")->capture_default_str();
  app->add_option("--loss-scale-hysteresis", c->loss_scale.hysteresis, "fp16: overflows before backing off")->capture_default_str();
  app->add_option("--loss-scale-min", c->loss_scale.min, "fp16: minimum scale (an overflow there is an error)")->capture_default_str();
  app->add_option("--inject-overflow", c->inject_overflow, "testing: STEP:RANK puts an inf into one gradient")->group("");
  app->add_option("--numerics", c->numerics, "exact (canonical order, bit-reproducible) or fast (BLAS)")
      ->transform(CLI::CheckedTransformer(std::map<std::string, Numerics>{{"exact", Numerics::exact}, {"fast", Numerics::fast}}));
  app->add_option("--checkpoint-out", c->checkpoint_out,
                  "write a checkpoint (HDF5) at the end and every --save-every; {step} in the name is replaced by the step");
  app->add_option("--save-every", c->save_every, "checkpoint every N steps (0: only at the end)");
  app->add_option("--resume", c->resume, "continue from a checkpoint (bit for bit)");
  app->add_option("--results", c->results, "write per-step results (HDF5)");
  app->add_option("--dump-grads", c->dump_grads, "write the gradients of step --dump-step (HDF5)");
  app->add_option("--dump-step", c->dump_step, "1-based step whose gradients --dump-grads writes");
  app->add_flag("--quiet", c->quiet, "no per-step lines");
  app->add_option("--threads", c->threads,
                  "threads per rank for the host loops and BLAS (the results do not depend on it)")
      ->capture_default_str();
  app->add_option("--target", c->target,
                  "where the kernels run: host (CPU kernels) or device (Kokkos's default execution space, the GPU "
                  "in the CUDA build); exact results are the same bits")
      ->capture_default_str();
  app->add_option("--comm", c->comm,
                  "communicator for tensors: mpi (host-staged; ranks may share a GPU) or nccl (CUDA build, "
                  "--target device, one GPU per rank); exact results are the same bits")
      ->capture_default_str();
  app->add_option("--dp", c->dp, "data-parallel degree")->capture_default_str();
  app->add_option("--tp", c->tp, "tensor-parallel degree (Megatron-style)")->capture_default_str();
  app->add_option("--pp", c->pp, "pipeline-parallel degree (stages)")->capture_default_str();
  app->add_option("--pp-split", c->pp_split, "layers per stage, e.g. 1,3 (default: even)")->delimiter(',');
  app->add_option("--schedule", c->schedule, "pipeline schedule: gpipe or 1f1b")->capture_default_str();
  app->add_option("--zero", c->zero, "1: ZeRO-1, optimizer state sharded over data-parallel ranks")->capture_default_str();
  app->add_option("--check-consistency", c->check_consistency,
                  "every N steps, check that replicas agree bit for bit (0: off)");
  app->add_option("--inject-bitflip", c->inject_bitflip, "testing: STEP:RANK:TENSOR flips one bit")->group("");
  return {app, [c, dims]() {
            c->model = model_preset(c->model_name);
            long* fields[5] = {&c->model.L, &c->model.C, &c->model.H, &c->model.T, &c->model.V};
            for (int i = 0; i < 5; ++i)
              if ((*dims)[i] != 0) *fields[i] = (*dims)[i];
            train(*c);
            return 0;
          },
          true};
}

}  // namespace parity::cli
