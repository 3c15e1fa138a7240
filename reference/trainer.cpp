#include "reference/trainer.hpp"

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>

#include "kernels/adamw.hpp"
#include "kernels/canonical.hpp"
#include "kernels/device.hpp"
#include "kernels/parallel.hpp"
#include "reference/checkpoint.hpp"
#include "reference/consistency.hpp"
#include "reference/data.hpp"
#include "kernels/error.hpp"
#include "reference/grid.hpp"
#include "reference/init.hpp"
#include "reference/loss_scaler.hpp"
#include "reference/ownership.hpp"
#include "reference/results.hpp"
#include "reference/schedule.hpp"
#include "reference/stage.hpp"

namespace parity {

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

constexpr long kBucket = 4L << 20;  // floats per gradient bucket: 16 MiB
constexpr int kTagAct = 1, kTagGrad = 2;

void init_local(const LocalLayout& lay, uint64_t seed, float* params) {
  for (const LocalTensor& t : lay.tensors()) {
    std::vector<float> rows(t.rows * t.global->cols);
    init_tensor_rows(lay.full(), *t.global, seed, t.row0, t.row0 + t.rows, rows.data());
    for (long r = 0; r < t.rows; ++r)
      std::copy(rows.begin() + r * t.global->cols + t.col0, rows.begin() + r * t.global->cols + t.col0 + t.cols,
                params + t.offset + r * t.cols);
  }
}

// Time inside collectives and pipeline sends. Blocking pipeline receives are the stages' idle time,
// counted apart (idle_seconds), not here.
double comm_seconds(ProcessGrid& g) {
  const CommStats& pp = g.pp_group().stats();
  const auto recv = pp.by_op.find("recv");
  return g.tp_group().stats().total_seconds() + g.dp_group().stats().total_seconds() + pp.total_seconds() -
         (recv == pp.by_op.end() ? 0.0 : recv->second.seconds);
}
}  // namespace

std::string run_id(const TrainConfig& c) {
  return "dp" + std::to_string(c.dp) + "-tp" + std::to_string(c.tp) + "-pp" + std::to_string(c.pp) + "-" +
         c.precision + "-" + to_string(c.numerics) + (c.pp > 1 ? "-" + c.schedule : std::string()) +
         (c.zero ? "-z1" : "");
}

TrainResult train(const TrainConfig& c) {
  validate(c);
  ProcessGrid g(c.dp, c.tp, c.pp, c.comm == "nccl");
  const bool root = g.world_rank == 0;
  auto data = make_token_source(c.data, c.seed, static_cast<int>(c.model.V));
  if (data->vocab_size() > c.model.V)
    throw Error("data " + c.data + " has vocabulary " + std::to_string(data->vocab_size()) +
                ", larger than the model's V=" + std::to_string(c.model.V) + " (set --vocab)");

  // This rank's stage and shard.
  const ParamLayout full(c.model);
  const std::vector<long> per_stage = stage_layers(c.model.L, c.pp, c.pp_split);
  StageSpec spec;
  spec.tp = c.tp;
  spec.tp_rank = g.tp_rank;
  spec.pp = c.pp;
  spec.stage = g.pp_rank;
  for (int s = 0; s < g.pp_rank; ++s) spec.layer_lo += per_stage[s];
  spec.layer_hi = spec.layer_lo + per_stage[g.pp_rank];
  const LocalLayout lay(full, spec);
  const long m = c.micro_batches, b = c.micro_batch_size, T = c.model.T, C = c.model.C;
  const long m_local = m / c.dp, N = b * T, tokens = c.tokens_per_step();
  const long slots = c.pp == 1 ? 1 : schedule_slots(c.schedule, c.pp, g.pp_rank, m_local);
  const Precision prec = c.prec();
  set_host_threads(c.threads);
  set_kernel_target(c.target == "device" ? Target::device : Target::host);
  set_fast_gemm_precision(prec);  // GPU fast mode: 16-bit operands on tensor cores
  Stage stage(c.model, c.numerics, prec, b, lay, g.tp_group(), static_cast<int>(slots));
  const Ownership own = make_ownership(lay, g, c.zero == 1);
  const Ownership whole{{Range{0, lay.total()}}, true};
  const long P = lay.total(), S = own.state_size();
  const long E = spec.first() ? lay.vocab_rows * C : 0;  // the token embedding's part of dwte, kept apart
  const long W = lay.wte >= 0 ? lay.vocab_rows * C : 0;  // wte is the first local tensor: [0, W)

  // State: full local parameters; Adam moments for the owned ranges.
  // Every buffer a kernel touches is unified memory (kernels/device.hpp): with --target device the layer
  // kernels, the micro-batch tree and AdamW run on the device and MPI reads the same buffers from the host.
  uvector<float> params(P), mom(S, 0.0f), var(S, 0.0f);
  long start = 0, updates = 0;  // steps done; optimizer updates applied (fp16 skips overflowing steps)
  LossScaler scaler(c.loss_scale, prec == Precision::fp16);
  if (!c.resume.empty()) {
    TrainState st;
    load_checkpoint(c.resume, c, full, st);  // every rank reads the file and keeps its part
    scatter_local(lay, whole, st.params, params.data(), true);
    scatter_local(lay, own, st.m, mom.data(), false);
    scatter_local(lay, own, st.v, var.data(), false);
    start = st.step;
    updates = st.updates;
    scaler.restore(st.loss_scale, st.scaler_growth, st.scaler_hysteresis);
    if (start >= c.steps)
      throw Error("checkpoint " + c.resume + " is already at step " + std::to_string(start) +
                  "; nothing to train with --steps " + std::to_string(c.steps));
    if (!c.dump_grads.empty() && c.dump_step <= start)
      throw Error("--dump-step " + std::to_string(c.dump_step) + " is not after the checkpoint's step " +
                  std::to_string(start) + ": that step will not run");
  } else {
    init_local(lay, c.seed, params.data());
  }
  if (root && !c.quiet)
    std::printf("parity train: model %s %s, %ld params, data %s, %ld x %ld x %ld tokens/step, %s %s, "
                "dp %d tp %d pp %d%s%s, %d thread%s per rank\n",
                c.model_name.c_str(), c.model.describe().c_str(), c.model.flops_params(), data->describe().c_str(),
                m, b, T, c.precision.c_str(), to_string(c.numerics), c.dp, c.tp, c.pp,
                c.pp > 1 ? (" " + c.schedule).c_str() : "", c.zero ? " zero1" : "", c.threads, c.threads > 1 ? "s" : "");

  // The compute copy of the weights: the master weights rounded to the compute precision (fp32: the same).
  uvector<float> compute_copy(prec == Precision::fp32 ? 0 : P);
  auto refresh_compute_copy = [&]() {
    if (prec == Precision::fp32) return;
    copy(compute_copy.data(), params.data(), P);
    round_to(prec, compute_copy.data(), P);
  };
  const float* weights = prec == Precision::fp32 ? params.data() : compute_copy.data();
  refresh_compute_copy();

  UVecTree grad_tree(m_local, P + E);  // this rank's micro-batches: a subtree of the canonical micro-batch tree
  const bool overlap = c.zero == 0 && g.dp > 1;  // DP all-reduce overlapped with the last backward pass
  uvector<float> reduced(overlap ? P + E : 0);
  uvector<float> grads(P);        // the step's gradient (owned ranges valid with ZeRO)
  uvector<int32_t> inputs(m_local * N), targets(m_local * N);
  uvector<float> act_in(N * C), grad_in(N * C), embed_shard(E), exchange;
  std::vector<uvector<float>> act_out(m_local, uvector<float>(c.pp > 1 && !spec.last() ? N * C : 0));
  std::vector<uvector<float>> grad_out(m_local, uvector<float>(c.pp > 1 && !spec.first() ? N * C : 0));
  const float inv_tokens = 1.0f / static_cast<float>(tokens);  // the one scaling by 1/tokens (canonical rule 7)
  Communicator& pipe = g.pp_group();
  const int prev = g.pp_rank - 1, next = g.pp_rank + 1;

  // Injected overflow for the loss-scaler test: STEP:RANK.
  long overflow_step = -1;
  int overflow_rank = -1;
  if (!c.inject_overflow.empty()) {
    const auto a = c.inject_overflow.find(':');
    if (a == std::string::npos) throw Error("--inject-overflow wants STEP:RANK");
    overflow_step = std::stol(c.inject_overflow.substr(0, a));
    overflow_rank = std::stoi(c.inject_overflow.substr(a + 1));
  }
  // Injected fault for the consistency-check test: STEP:RANK:TENSOR.
  long inject_step = -1;
  int inject_rank = -1;
  std::string inject_tensor;
  if (!c.inject_bitflip.empty()) {
    const auto a = c.inject_bitflip.find(':'), z = c.inject_bitflip.find(':', a + 1);
    if (a == std::string::npos || z == std::string::npos) throw Error("--inject-bitflip wants STEP:RANK:TENSOR");
    inject_step = std::stol(c.inject_bitflip.substr(0, a));
    inject_rank = std::stoi(c.inject_bitflip.substr(a + 1, z - a - 1));
    inject_tensor = c.inject_bitflip.substr(z + 1);
  }

  TrainResult result;
  result.theoretical_bubble = theoretical_bubble(c.pp, m_local);
  double idle_total = 0, time_total = 0;
  for (long s = start; s < c.steps; ++s) {
    const auto t0 = Clock::now();
    const double comm0 = comm_seconds(g);
    double idle = 0;
    for (long i = 0; i < m_local; ++i) {
      const long mb = g.dp_rank * m_local + i;
      for (long r = 0; r < b; ++r)
        data->sequence(static_cast<uint64_t>((s * m + mb) * b + r), static_cast<int>(T), &inputs[(i * b + r) * T],
                       &targets[(i * b + r) * T]);
    }
    // Run the schedule. Sends are non-blocking (a stage must be able to send forward while its neighbour
    // sends backward); receives block, and the time spent in them is this stage's pipeline idle time.
    std::vector<PipeOp> ops;
    if (c.pp == 1) {
      for (long i = 0; i < m_local; ++i) { ops.push_back({true, i}); ops.push_back({false, i}); }
    } else {
      ops = c.schedule == "gpipe" ? schedule_gpipe(c.pp, g.pp_rank, m_local) : schedule_1f1b(c.pp, g.pp_rank, m_local);
    }
    const float loss_scale = scaler.scale();
    const float dloss = inv_tokens * loss_scale;  // fp16: the scaled loss gradient (powers of two: exact)
    std::vector<std::unique_ptr<Communicator::Request>> sends, buckets;
    grad_tree.reset();
    TreeAccumulator loss_tree(m_local);
    for (const PipeOp& op : ops) {
      const int slot = static_cast<int>(op.mb % slots);
      const int32_t* in = &inputs[op.mb * N];
      const int32_t* tg = &targets[op.mb * N];
      if (op.forward) {
        if (!spec.first()) {
          const auto w0 = Clock::now();
          pipe.recv(act_in.data(), N * C, prev, kTagAct);
          idle += since(w0);
        }
        const float loss = stage.forward(slot, weights, in, tg, act_in.data(), act_out[op.mb].data());
        if (spec.last()) loss_tree.push(loss);
        else sends.push_back(pipe.isend(act_out[op.mb].data(), N * C, next, kTagAct));
      } else {
        if (!spec.last()) {
          const auto w0 = Clock::now();
          pipe.recv(grad_in.data(), N * C, next, kTagGrad);
          idle += since(w0);
        }
        float* leaf = grad_tree.leaf();
        if (overlap && grad_tree.at_last_leaf()) {
          // The last micro-batch: as each part of the gradient becomes final, finish its micro-batch tree
          // and start its data-parallel all-reduce (buckets of at most 16 MiB) while the backward goes on.
          auto ready = [&](const float* first, long n) {
            const long lo = first - leaf;
            grad_tree.finish_range(lo, lo + n, reduced.data());
            for (long b = lo; b < lo + n; b += kBucket)
              buckets.push_back(g.dp_group().iallreduce_sum(reduced.data() + b, std::min(kBucket, lo + n - b), c.numerics));
            for (auto& r : buckets) r->test();  // progress the earlier buckets
          };
          stage.backward(slot, weights, leaf, leaf + P, in, tg, grad_in.data(), grad_out[op.mb].data(), dloss, ready);
        } else {
          stage.backward(slot, weights, leaf, leaf + P, in, tg, grad_in.data(), grad_out[op.mb].data(), dloss);
          grad_tree.push();
        }
        if (!spec.first()) sends.push_back(pipe.isend(grad_out[op.mb].data(), N * C, prev, kTagGrad));
      }
    }
    for (auto& r : sends) r->wait();

    // Data parallelism: combine the DP ranks' subtrees with the ordered tree over DP rank.
    if (c.zero == 0) {
      for (auto& r : buckets) r->wait();  // started during the last backward pass
      const float* local = overlap ? reduced.data() : grad_tree.result();
      copy(grads.data(), local, P);
      copy(embed_shard.data(), local + P, E);
    } else {
      const float* local = grad_tree.result();
      // ZeRO-1: reduce-scatter each region (wte, the rest) onto the shard owners, in whole 32-element units.
      for (const ZeroRegion& z : zero_regions(lay, g.dp, g.dp_rank)) {
        if (z.region.size() > 0)
          g.dp_group().reduce_scatter_sum(local + z.region.lo, grads.data() + z.shard_lo, z.counts, c.numerics);
        if (z.region.lo == 0 && E > 0)  // the token embedding's part of wte, cut like wte
          g.dp_group().reduce_scatter_sum(local + P, embed_shard.data() + z.shard_lo, z.counts, c.numerics);
      }
    }
    // The tied embedding: dwte = (LM head part) + (token embedding part), each already summed over all
    // micro-batches. With pp > 1 the parts live on the first and last stages: they swap them.
    Range wte_mine{0, 0};
    for (const Range& r : own.ranges)
      if (r.lo < W) wte_mine = {r.lo, std::min(r.hi, W)};
    if (W > 0 && wte_mine.size() > 0) {
      float* head = grads.data() + wte_mine.lo;
      if (c.pp == 1) {
        add_into(head, embed_shard.data() + wte_mine.lo, wte_mine.size());
      } else {
        exchange.resize(wte_mine.size());
        const int other = spec.first() ? c.pp - 1 : 0;
        const float* mine = spec.first() ? embed_shard.data() + wte_mine.lo : head;
        auto req = pipe.isend(mine, wte_mine.size(), other, kTagGrad + 1);
        pipe.recv(exchange.data(), wte_mine.size(), other, kTagGrad + 1);
        req->wait();
        const float* hp = spec.first() ? exchange.data() : head;
        const float* ep = spec.first() ? embed_shard.data() + wte_mine.lo : exchange.data();
        copy(head, hp, wte_mine.size());  // head = hp + ep (hp may be head itself)
        add_into(head, ep, wte_mine.size());
      }
    }

    // The loss: the last stage's subtree over this DP rank's micro-batches, the tree over DP ranks, then
    // the one division by the token count; every stage learns it from the last.
    float loss_sum = spec.last() ? loss_tree.result() : 0.0f;
    if (g.dp > 1) g.dp_host().allreduce_sum(&loss_sum, 1, Numerics::exact);  // a host scalar: MPI
    if (g.pp > 1) g.pp_host().broadcast(&loss_sum, 1, c.pp - 1);
    const float loss = loss_sum / static_cast<float>(tokens);
    if (!std::isfinite(loss)) {
      char lr[32];
      std::snprintf(lr, sizeof lr, "%.3e", learning_rate(c, s));
      throw Error("loss is " + std::string(std::isnan(loss) ? "NaN" : "infinite") + " at step " +
                  std::to_string(s + 1) + " (lr " + lr + "); stopping");
    }

    // Loss scaling (fp16): an inf or NaN anywhere skips the step on every rank; otherwise unscale (exact for
    // power-of-two scales) before the norm, the clipping and the update.
    int overflow = 0;
    if (overflow_step == s + 1 && overflow_rank == g.world_rank) grads[own.ranges.front().lo] = INFINITY;
    for (const Range& r : own.ranges)
      if (!overflow) overflow = any_nonfinite(grads.data() + r.lo, r.size());
    if (g.world_size > 1) MPI_Allreduce(MPI_IN_PLACE, &overflow, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    const bool skip = scaler.update(overflow != 0, s + 1);
    if (skip && root)
      std::printf("step %5ld/%ld | gradient overflow at loss scale %g: step skipped on every rank, scale now %g\n",
                  s + 1, c.steps, static_cast<double>(loss_scale), scaler.scale_value());
    if (loss_scale != 1.0f && !skip) {
      const float unscale = 1.0f / loss_scale;
      for (const Range& r : own.ranges) scale(grads.data() + r.lo, r.size(), unscale);
    }
    const float norm = skip ? NAN : global_grad_norm(lay, own, g, grads.data());
    if (c.dump_step == s + 1 && !c.dump_grads.empty()) {
      const std::vector<float> gfull = gather_full(lay, own, g, grads.data(), true);
      if (root) {
        std::vector<int32_t> all_in(m * N), all_tg(m * N);
        for (long r = 0; r < m * b; ++r)
          data->sequence(static_cast<uint64_t>(s * m * b + r), static_cast<int>(T), &all_in[r * T], &all_tg[r * T]);
        write_grad_dump(c.dump_grads, c, full, gfull.data(), all_in, all_tg, loss, s + 1);
      }
    }
    const float clip = (c.grad_clip > 0.0f && norm > c.grad_clip) ? c.grad_clip / norm : 1.0f;
    const float lr = learning_rate(c, s);
    if (!skip) ++updates;
    long vi = 0;
    for (const Range& r : (skip ? std::vector<Range>{} : own.ranges)) {
      for (const LocalTensor& t : lay.tensors()) {
        const long lo = std::max(r.lo, t.offset), hi = std::min(r.hi, t.offset + t.size);
        if (lo < hi)
          adamw_update(params.data() + lo, mom.data() + vi + (lo - r.lo), var.data() + vi + (lo - r.lo),
                       grads.data() + lo, hi - lo, lr, t.global->decay ? c.adam.weight_decay : 0.0f, clip, updates,
                       c.adam);
      }
      vi += r.size();
    }
    if (c.zero == 1 && g.dp > 1 && !skip) {
      for (const ZeroRegion& z : zero_regions(lay, g.dp, g.dp_rank))
        if (z.region.size() > 0) g.dp_group().all_gather(params.data() + z.shard_lo, params.data() + z.region.lo, z.counts);
    }
    if (inject_step == s + 1 && inject_rank == g.world_rank) {
      const LocalTensor* t = lay.find(inject_tensor);
      if (!t) throw Error("--inject-bitflip: world rank " + std::to_string(g.world_rank) + " holds no " + inject_tensor);
      uint32_t bits;
      std::memcpy(&bits, &params[t->offset], 4);
      bits ^= 1u;
      std::memcpy(&params[t->offset], &bits, 4);
    }
    if (!skip) refresh_compute_copy();
    if (c.check_consistency > 0 && (s + 1) % c.check_consistency == 0)
      check_consistency(s + 1, lay, own, g, params.data(), mom.data(), var.data(), norm);

    const double sec = since(t0);
    double times[2] = {idle, sec};
    MPI_Allreduce(MPI_IN_PLACE, times, 2, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);  // the slowest rank sets the pace
    const StepRecord rec{s + 1, loss, norm, lr, times[1], tokens / times[1], comm_seconds(g) - comm0, times[0],
                         loss_scale, skip};
    result.steps.push_back(rec);
    idle_total += idle;
    time_total += sec;
    if (root && !c.quiet && !skip) {
      std::printf("step %5ld/%ld | loss %.6f | grad norm %.4f | lr %.3e | %8.1f ms | %9.0f tok/s", rec.step, c.steps,
                  rec.loss, rec.grad_norm, rec.lr, rec.seconds * 1e3, rec.tokens_per_second);
      if (c.pp > 1) std::printf(" | idle %4.1f%%", 100.0 * rec.idle_seconds / rec.seconds);
      std::printf("\n");
      std::fflush(stdout);
    }
    const long done = s + 1;
    if (!c.checkpoint_out.empty() && ((c.save_every > 0 && done % c.save_every == 0) || done == c.steps)) {
      TrainState st;
      st.step = done;
      st.updates = updates;
      st.loss_scale = scaler.scale_value();
      st.scaler_growth = scaler.growth_tracker();
      st.scaler_hysteresis = scaler.hysteresis_tracker();
      st.params = gather_full(lay, own, g, params.data(), true);
      st.m = gather_full(lay, own, g, mom.data(), false);
      st.v = gather_full(lay, own, g, var.data(), false);
      if (root) save_checkpoint(checkpoint_path(c.checkpoint_out, done), c, full, st);
    }
  }
  // Pipeline idle share per stage (time blocked waiting for a neighbour / step time). With balanced stages
  // each stage's share approaches the schedule's bubble (p-1)/(m+p-1); an unbalanced split adds the
  // difference in stage time to the faster stages' idle time.
  std::vector<double> stage_idle(c.pp, 0.0);
  if (g.dp_rank == 0 && g.tp_rank == 0) stage_idle[g.pp_rank] = time_total > 0 ? idle_total / time_total : 0.0;
  MPI_Allreduce(MPI_IN_PLACE, stage_idle.data(), c.pp, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  result.stage_idle = stage_idle;
  result.idle_fraction = 0;
  for (double f : stage_idle) result.idle_fraction += f / c.pp;
  if (root && !c.quiet && c.pp > 1) {
    std::printf("pipeline idle per stage:");
    for (int st = 0; st < c.pp; ++st) std::printf(" %.1f%%", 100.0 * stage_idle[st]);
    std::printf(" (mean %.1f%%); theoretical bubble (p-1)/(m+p-1) = %.1f%%\n", 100.0 * result.idle_fraction,
                100.0 * result.theoretical_bubble);
  }
  if (root && !c.results.empty()) write_results(c.results, c, run_id(c), result.steps);
  return result;
}

}  // namespace parity
