#include "reference/pipeline.hpp"

#include <chrono>

#include "kernels/canonical.hpp"

namespace parity {

namespace {
constexpr int kTagAct = 1, kTagGrad = 2;
}

PipelineExecutor::PipelineExecutor(Stage& stage, Communicator& pipe, const LocalLayout& lay, long rows, long m_local)
    : stage_(stage),
      pipe_(pipe),
      spec_(lay.spec()),
      n_(rows * lay.full().model().C),
      P_(lay.total()),
      act_in_(n_),
      grad_in_(n_),
      act_out_(m_local, uvector<float>(spec_.pp > 1 && !spec_.last() ? n_ : 0)),
      grad_out_(m_local, uvector<float>(spec_.pp > 1 && !spec_.first() ? n_ : 0)) {}

float PipelineExecutor::run(const Schedule& sched, const float* weights, const Batch& batch, GradientReduction& grads,
                            float dloss) {
  idle_ = 0;
  sends_.clear();
  TreeAccumulator losses(static_cast<long>(act_out_.size()));
  for (const PipeOp& op : sched.ops) {
    const int slot = static_cast<int>(op.mb % sched.slots);
    if (op.forward) forward(op.mb, slot, weights, batch, losses);
    else backward(op.mb, slot, weights, batch, grads, dloss);
  }
  for (auto& r : sends_) r->wait();
  return spec_.last() ? losses.result() : 0.0f;
}

void PipelineExecutor::forward(long mb, int slot, const float* weights, const Batch& batch, TreeAccumulator& losses) {
  if (!spec_.first()) recv(act_in_.data(), spec_.stage - 1, kTagAct);
  const float loss = stage_.forward(slot, weights, batch.inputs(mb), batch.targets(mb), act_in_.data(), act_out_[mb].data());
  if (spec_.last()) losses.push(loss);
  else sends_.push_back(pipe_.isend(act_out_[mb].data(), n_, spec_.stage + 1, kTagAct));
}

void PipelineExecutor::backward(long mb, int slot, const float* weights, const Batch& batch, GradientReduction& grads,
                                float dloss) {
  if (!spec_.last()) recv(grad_in_.data(), spec_.stage + 1, kTagGrad);
  float* leaf = grads.leaf();
  const Stage::ReadyFn hook = grads.overlap_hook();
  stage_.backward(slot, weights, leaf, leaf + P_, batch.inputs(mb), batch.targets(mb), grad_in_.data(),
                  grad_out_[mb].data(), dloss, hook);
  grads.leaf_done();
  if (!spec_.first()) sends_.push_back(pipe_.isend(grad_out_[mb].data(), n_, spec_.stage - 1, kTagGrad));
}

void PipelineExecutor::recv(float* buf, int peer, int tag) {
  const auto t0 = std::chrono::steady_clock::now();
  pipe_.recv(buf, n_, peer, tag);
  idle_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace parity
