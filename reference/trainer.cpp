#include "reference/trainer.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>

#include "kernels/error.hpp"
#include "kernels/parallel.hpp"
#include "reference/batch.hpp"
#include "reference/checkpoint.hpp"
#include "reference/consistency.hpp"
#include "reference/data.hpp"
#include "reference/fault_injection.hpp"
#include "reference/grad_reduction.hpp"
#include "reference/grid.hpp"
#include "reference/loss_scaler.hpp"
#include "reference/optimizer.hpp"
#include "reference/pipeline.hpp"
#include "reference/progress.hpp"
#include "reference/results.hpp"
#include "reference/run_definition.hpp"
#include "reference/schedule.hpp"
#include "reference/stage.hpp"
#include "reference/tied_embedding.hpp"

namespace parity {

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Time inside collectives and pipeline sends. Blocking pipeline receives are the stages' idle time,
// counted apart (idle_seconds), not here.
double comm_seconds(ProcessGrid& g) {
  const CommStats& pp = g.pp_group().stats();
  const auto recv = pp.by_op.find("recv");
  return g.tp_group().stats().total_seconds() + g.dp_group().stats().total_seconds() + pp.total_seconds() -
         (recv == pp.by_op.end() ? 0.0 : recv->second.seconds);
}

// Validates the run and makes the process-wide kernel settings, before anything is allocated.
const TrainConfig& prepared(const TrainConfig& c) {
  validate(c);
  set_host_threads(c.threads);
  set_comm_timeout(c.comm_timeout);
  set_kernel_target(c.target);
  set_fast_gemm_precision(c.precision);  // GPU fast mode: 16-bit operands on tensor cores
  return c;
}

// This rank's pipeline stage and tensor-parallel shard.
StageSpec stage_spec(const TrainConfig& c, const ProcessGrid& g) {
  const std::vector<long> per_stage = stage_layers(c.model.L, c.pp, c.pp_split);
  StageSpec s;
  s.tp = c.tp;
  s.tp_rank = g.tp_rank;
  s.pp = c.pp;
  s.stage = g.pp_rank;
  for (int i = 0; i < g.pp_rank; ++i) s.layer_lo += per_stage[i];
  s.layer_hi = s.layer_lo + per_stage[g.pp_rank];
  return s;
}

std::unique_ptr<TokenSource> token_source(const TrainConfig& c) {
  auto data = make_token_source(c.data, c.seed, static_cast<int>(c.model.V));
  if (data->vocab_size() > c.model.V)
    throw Error("data " + c.data + " has vocabulary " + std::to_string(data->vocab_size()) +
                ", larger than the model's V=" + std::to_string(c.model.V) + " (set --vocab)");
  return data;
}

Schedule checked_schedule(const TrainConfig& c, const ProcessGrid& g, long m_local) {
  const ScheduleKind kind = c.schedule;
  Schedule s = make_schedule(kind, c.pp, g.pp_rank, m_local);
  const std::string bad = check_schedule(s, m_local);
  if (!bad.empty()) throw Error("internal: the " + std::string(to_string(c.schedule)) + " schedule of stage " + std::to_string(g.pp_rank) + " is invalid: " + bad);
  return s;
}

// One rank's part of a training run. The step reads as its phases, each in a file of its own:
//   batch.hpp           the step's tokens
//   pipeline.hpp        the schedule's forward and backward passes (pp = 1 included)
//   grad_reduction.hpp  the micro-batch tree and the data-parallel reduction
//   tied_embedding.hpp  dwte = head part + embedding part
//   loss_scaler.hpp     overflow detection, skipping, unscaling (fp16)
//   ownership.hpp       the layout-independent gradient norm
//   optimizer.hpp       AdamW on the owned ranges, the ZeRO-1 all-gather, the compute copy
//   fault_injection, consistency, checkpoint, results, progress: the checks and the files
class Trainer {
 public:
  explicit Trainer(const TrainConfig& c);
  TrainResult run();

 private:
  void resume();
  StepRecord step(long s);
  float step_loss(float local_sum, long s);
  void dump_grads(long s, float loss);
  void save(long done);
  void pipeline_figures(TrainResult& r);

  const TrainConfig& c_;
  ProcessGrid g_;
  const bool root_;
  std::unique_ptr<TokenSource> data_;
  const ParamLayout full_;
  const LocalLayout lay_;
  const long m_local_, tokens_;
  const Schedule sched_;
  Stage stage_;
  DistributedOptimizer opt_;
  GradientReduction grads_;
  TiedEmbedding tied_;
  PipelineExecutor pipe_;
  Batch batch_;
  LossScaler scaler_;
  const FaultInjection faults_;
  long start_ = 0, updates_ = 0;        // steps done; optimizer updates applied (fp16 skips overflowing steps)
  double idle_total_ = 0, time_total_ = 0;  // this rank's, for the pipeline figures
};

Trainer::Trainer(const TrainConfig& c)
    : c_(prepared(c)),
      g_(c.dp, c.tp, c.pp, c.comm == CommKind::nccl),
      root_(g_.world_rank == 0),
      data_(token_source(c)),
      full_(c.model),
      lay_(full_, stage_spec(c, g_)),
      m_local_(c.micro_batches / c.dp),
      tokens_(c.tokens_per_step()),
      sched_(checked_schedule(c, g_, m_local_)),
      stage_(c.model, c.numerics, c.precision, c.micro_batch_size, lay_, g_.tp_group(), static_cast<int>(sched_.slots)),
      opt_(lay_, g_, c.zero == 1, c.precision, c.adam),
      grads_(lay_, g_, c.numerics, c.zero == 1, m_local_),
      tied_(lay_, opt_.ownership()),
      pipe_(stage_, g_.pp_group(), lay_, c.micro_batch_size * c.model.T, m_local_),
      batch_(c.micro_batches, g_.dp_rank * m_local_, m_local_, c.micro_batch_size, c.model.T),
      scaler_(c.loss_scale, c.precision == Precision::fp16),
      faults_(FaultInjection::parse(c.inject_overflow, c.inject_bitflip, c.inject_stall, g_.world_size)) {
  if (!c.resume.empty()) resume();
  else opt_.init(c.seed);
  if (root_ && !c.quiet) print_header(c, data_->describe());
  opt_.refresh_compute_copy();
}

void Trainer::resume() {
  TrainState st;
  load_checkpoint(c_.resume, c_, full_, st);  // every rank reads the file and keeps its part
  opt_.restore(st);
  start_ = st.step;
  updates_ = st.updates;
  scaler_.restore(st.loss_scale, st.scaler_growth, st.scaler_hysteresis);
  if (start_ >= c_.steps)
    throw Error("checkpoint " + c_.resume + " is already at step " + std::to_string(start_) +
                "; nothing to train with --steps " + std::to_string(c_.steps));
  if (!c_.dump_grads.empty() && c_.dump_step <= start_)
    throw Error("--dump-step " + std::to_string(c_.dump_step) + " is not after the checkpoint's step " +
                std::to_string(start_) + ": that step will not run");
}

TrainResult Trainer::run() {
  TrainResult r;
  r.theoretical_bubble = theoretical_bubble(c_.pp, m_local_);
  for (long s = start_; s < c_.steps; ++s) {
    r.steps.push_back(step(s));
    if (root_ && !c_.quiet && !r.steps.back().skipped) print_step(c_, r.steps.back());
    const long done = s + 1;
    if (!c_.checkpoint_out.empty() && ((c_.save_every > 0 && done % c_.save_every == 0) || done == c_.steps)) save(done);
  }
  pipeline_figures(r);
  if (root_ && !c_.quiet && c_.pp > 1) print_pipeline(c_, r);
  if (root_ && !c_.results.empty()) write_results(c_.results, c_, run_id(c_), r);
  return r;
}

StepRecord Trainer::step(long s) {
  const auto t0 = Clock::now();
  const double comm0 = comm_seconds(g_);
  const Ownership& own = opt_.ownership();
  faults_.stall(s + 1, g_.world_rank);
  batch_.load(*data_, s);
  const float used_scale = scaler_.scale();
  const float dloss = (1.0f / static_cast<float>(tokens_)) * used_scale;  // the one scaling by 1/tokens (rule 7)
  grads_.begin_step();
  const float loss_sum = pipe_.run(sched_, opt_.weights(), batch_, grads_, dloss);
  grads_.finish();
  tied_.sum(grads_.grads(), grads_.embed_part(), g_.pp_group());
  const float loss = step_loss(loss_sum, s);
  faults_.overflow(s + 1, g_.world_rank, grads_.grads(), own);
  const bool skip = scaler_.unscale_or_skip(grads_.grads(), own, g_, s + 1);
  if (skip && root_) print_skipped(c_, s + 1, used_scale, scaler_.scale_value());
  const float norm = skip ? NAN : global_grad_norm(lay_, own, g_, grads_.grads());
  if (c_.dump_step == s + 1 && !c_.dump_grads.empty()) dump_grads(s, loss);
  const float clip = (c_.grad_clip > 0.0f && norm > c_.grad_clip) ? c_.grad_clip / norm : 1.0f;
  const float lr = learning_rate(c_, s);
  if (!skip) opt_.step(grads_.grads(), lr, clip, ++updates_);
  faults_.bitflip(s + 1, g_.world_rank, lay_, opt_.params());
  if (!skip) opt_.refresh_compute_copy();
  if (c_.check_consistency > 0 && (s + 1) % c_.check_consistency == 0)
    check_consistency(s + 1, lay_, own, g_, opt_.params(), opt_.m(), opt_.v(), norm);

  const double sec = since(t0), idle = pipe_.idle_seconds();
  idle_total_ += idle;
  time_total_ += sec;
  double slowest[2] = {idle, sec};
  g_.max(slowest, 2);  // the slowest rank sets the pace
  return {s + 1, loss, norm, lr, slowest[1], tokens_ / slowest[1], comm_seconds(g_) - comm0, slowest[0], used_scale, skip};
}

// The loss: the last stage's subtree over this DP rank's micro-batches, the tree over DP ranks, then the one
// division by the token count; every stage learns it from the last.
float Trainer::step_loss(float local_sum, long s) {
  if (g_.dp > 1) g_.dp_host().allreduce_sum(&local_sum, 1, Numerics::exact);  // a host scalar: MPI
  if (g_.pp > 1) g_.pp_host().broadcast(&local_sum, 1, c_.pp - 1);
  const float loss = local_sum / static_cast<float>(tokens_);
  if (!std::isfinite(loss)) {
    char lr[32];
    std::snprintf(lr, sizeof lr, "%.3e", learning_rate(c_, s));
    throw Error("loss is " + std::string(std::isnan(loss) ? "NaN" : "infinite") + " at step " + std::to_string(s + 1) +
                " (lr " + lr + "); stopping");
  }
  return loss;
}

void Trainer::dump_grads(long s, float loss) {
  const std::vector<float> full = gather_full(lay_, opt_.ownership(), g_, grads_.grads(), true);
  if (!root_) return;
  Batch whole(c_.micro_batches, 0, c_.micro_batches, c_.micro_batch_size, c_.model.T);
  whole.load(*data_, s);
  const std::vector<int32_t> in(whole.all_inputs().begin(), whole.all_inputs().end());
  const std::vector<int32_t> tg(whole.all_targets().begin(), whole.all_targets().end());
  write_grad_dump(c_.dump_grads, c_, full_, full.data(), in, tg, loss, s + 1);
}

void Trainer::save(long done) {
  TrainState st;
  st.step = done;
  st.updates = updates_;
  st.loss_scale = scaler_.scale_value();
  st.scaler_growth = scaler_.growth_tracker();
  st.scaler_hysteresis = scaler_.hysteresis_tracker();
  opt_.gather(st);
  if (root_) save_checkpoint(checkpoint_path(c_.checkpoint_out, done), c_, full_, st);
}

// Pipeline idle share per stage (time blocked waiting for a neighbour / step time). With balanced stages
// each stage's share approaches the schedule's bubble (p-1)/(m/dp+p-1); an unbalanced split adds the
// difference in stage time to the faster stages' idle time.
void Trainer::pipeline_figures(TrainResult& r) {
  r.stage_idle.assign(c_.pp, 0.0);
  if (g_.dp_rank == 0 && g_.tp_rank == 0) r.stage_idle[g_.pp_rank] = time_total_ > 0 ? idle_total_ / time_total_ : 0.0;
  g_.sum(r.stage_idle.data(), c_.pp);
  r.idle_fraction = 0;
  for (double f : r.stage_idle) r.idle_fraction += f / c_.pp;
}
}  // namespace

TrainResult train(const TrainConfig& c) { return Trainer(c).run(); }

}  // namespace parity
