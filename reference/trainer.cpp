#include "reference/trainer.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>

#include "kernels/adamw.hpp"
#include "kernels/canonical.hpp"
#include "reference/checkpoint.hpp"
#include "reference/data.hpp"
#include "reference/error.hpp"
#include "reference/gpt2.hpp"
#include "reference/init.hpp"
#include "reference/results.hpp"

namespace parity {

std::string run_id(const TrainConfig& c) {
  return std::string("dp1-tp1-pp1-") + c.precision + "-" + to_string(c.numerics);
}

TrainResult train(const TrainConfig& c) {
  validate(c);
  auto data = make_token_source(c.data, c.seed, static_cast<int>(c.model.V));
  if (data->vocab_size() > c.model.V)
    throw Error("data " + c.data + " has vocabulary " + std::to_string(data->vocab_size()) +
                ", larger than the model's V=" + std::to_string(c.model.V) + " (set --vocab)");
  GPT2 model(c.model, c.numerics, c.micro_batch_size);
  const ParamLayout& layout = model.layout();
  const long P = layout.total(), m = c.micro_batches, b = c.micro_batch_size, T = c.model.T;
  const long tokens = c.tokens_per_step();

  TrainState st;
  if (!c.resume.empty()) {
    load_checkpoint(c.resume, c, layout, st);
  } else {
    st.params.assign(P, 0.0f);
    st.m.assign(P, 0.0f);
    st.v.assign(P, 0.0f);
    init_params(layout, c.seed, st.params.data());
  }
  if (!c.quiet)
    std::printf("parity train: model %s %s, %ld params, data %s, %ld x %ld x %ld tokens/step, %s %s\n",
                c.model_name.c_str(), c.model.describe().c_str(), c.model.flops_params(), data->describe().c_str(),
                m, b, T, c.precision.c_str(), to_string(c.numerics));

  VecTree grad_tree(m, P);  // micro-batch gradients combined with the pairwise tree over micro-batch index
  std::vector<int32_t> inputs(m * b * T), targets(m * b * T);
  const float dloss = 1.0f / static_cast<float>(tokens);  // the one scaling by 1/tokens (canonical rule 7)
  TrainResult result;
  for (long s = st.step; s < c.steps; ++s) {
    const auto t0 = std::chrono::steady_clock::now();
    for (long r = 0; r < m * b; ++r)
      data->sequence(static_cast<uint64_t>(s * m * b + r), static_cast<int>(T), &inputs[r * T], &targets[r * T]);
    grad_tree.reset();
    TreeAccumulator loss_tree(m);
    for (long mb = 0; mb < m; ++mb) {
      const int32_t* in = &inputs[mb * b * T];
      const int32_t* tg = &targets[mb * b * T];
      loss_tree.push(model.forward(st.params.data(), in, tg));
      model.backward(st.params.data(), grad_tree.leaf(), in, tg, dloss);
      grad_tree.push();
    }
    const float* g = grad_tree.result();
    const float loss = loss_tree.result() / static_cast<float>(tokens);
    if (!std::isfinite(loss))
      throw Error("loss is " + std::string(std::isnan(loss) ? "NaN" : "infinite") + " at step " +
                  std::to_string(s + 1) + " (lr " + std::to_string(learning_rate(c, s)) + "); stopping");
    const float norm = std::sqrt(canonical_dot(g, g, P));
    if (c.dump_step == s + 1 && !c.dump_grads.empty())
      write_grad_dump(c.dump_grads, c, layout, g, inputs, targets, loss, s + 1);
    const float clip = (c.grad_clip > 0.0f && norm > c.grad_clip) ? c.grad_clip / norm : 1.0f;
    const float lr = learning_rate(c, s);
    for (const auto& t : layout.tensors())
      adamw_update(st.params.data() + t.offset, st.m.data() + t.offset, st.v.data() + t.offset, g + t.offset, t.size,
                   lr, t.decay ? c.adam.weight_decay : 0.0f, clip, s + 1, c.adam);
    st.step = s + 1;
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const StepRecord rec{s + 1, loss, norm, lr, sec, tokens / sec};
    result.steps.push_back(rec);
    if (!c.quiet)
      std::printf("step %5ld/%ld | loss %.6f | grad norm %.4f | lr %.3e | %8.1f ms | %9.0f tok/s\n", rec.step,
                  c.steps, rec.loss, rec.grad_norm, rec.lr, sec * 1e3, rec.tokens_per_second);
    std::fflush(stdout);
    if (!c.checkpoint_out.empty() && ((c.save_every > 0 && st.step % c.save_every == 0) || st.step == c.steps))
      save_checkpoint(c.checkpoint_out, c, layout, st);
  }
  if (!c.results.empty()) write_results(c.results, c, run_id(c), result.steps);
  return result;
}

}  // namespace parity
