// The pipeline executor: runs one stage's op list (reference/schedule.hpp) for one step. A forward on any
// stage but the first receives its input activations from the previous stage; a backward on any stage but
// the last receives its output gradient from the next one. Sends are non-blocking (a stage must be able to
// send forward while its neighbour sends backward); receives block, and the time spent in them is the
// stage's pipeline idle time. With one stage nothing is sent: the same loop runs F0 B0 F1 B1 ...
#pragma once
#include <vector>

#include "kernels/comm/communicator.hpp"
#include "kernels/device.hpp"
#include "reference/batch.hpp"
#include "reference/grad_reduction.hpp"
#include "reference/schedule.hpp"
#include "reference/stage.hpp"

namespace parity {

class PipelineExecutor {
 public:
  PipelineExecutor(Stage& stage, Communicator& pipe, const LocalLayout& lay, long rows, long m_local);

  // Runs the schedule with the given weights (the compute copy): forwards feed the loss tree, backwards
  // the gradient reduction's micro-batch tree, each micro-batch's loss gradient being dloss (1/tokens times
  // the loss scale). Returns the canonical sum of this rank's micro-batches' token losses on the last stage,
  // 0 elsewhere.
  float run(const Schedule& sched, const float* weights, const Batch& batch, GradientReduction& grads, float dloss);
  double idle_seconds() const { return idle_; }  // of the last run

 private:
  void forward(long mb, int slot, const float* weights, const Batch& batch, TreeAccumulator& losses);
  void backward(long mb, int slot, const float* weights, const Batch& batch, GradientReduction& grads, float dloss);
  void recv(float* buf, int peer, int tag);

  Stage& stage_;
  Communicator& pipe_;
  const StageSpec& spec_;
  long n_, P_;  // activation floats per micro-batch; local parameters
  uvector<float> act_in_, grad_in_;
  std::vector<uvector<float>> act_out_, grad_out_;  // per micro-batch: alive until its send completes
  std::vector<std::unique_ptr<Communicator::Request>> sends_;
  double idle_ = 0;
};

}  // namespace parity
