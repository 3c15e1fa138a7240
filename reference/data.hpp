// Token sources: where the training sequences come from.
//
// Every source is a pure function of (data seed, global row index): the sequence for row r is the same
// whichever rank, micro-batch or layout asks for it, and asking for one row costs O(T) without touching
// any other row. That is what lets every parallel layout train on the same data as the single-device
// baseline (docs/design.md, canonical order rule 1).
//
// Row numbering: row = (step * micro_batches + micro) * micro_batch_size + r (see global_row below).
#pragma once
#include <cstdint>
#include <memory>
#include <string>

namespace parity {

class TokenSource {
 public:
  virtual ~TokenSource() = default;
  // The data's vocabulary (before the model pads it): every token is < vocab_size().
  virtual int vocab_size() const = 0;
  // One line for logs and result files, e.g. "synthetic(V=256, seed=1, H=1.1037 nats)",
  // "text:FILE (N bytes)", "llmc:FILE (N tokens)".
  virtual std::string describe() const = 0;
  // Fills one sequence: inputs[0..T) and targets[0..T) (targets are inputs shifted by one) for the given
  // global row index. A pure function of (data seed, row). Throws parity::Error when the source holds
  // fewer than T+1 tokens.
  virtual void sequence(uint64_t row, int T, int32_t* inputs, int32_t* targets) const = 0;
};

// Global row index of sequence r of micro-batch `micro` at optimizer step `step`.
inline uint64_t global_row(uint64_t step, int micro_batches, int micro, int micro_batch_size, int r) {
  return (step * uint64_t(micro_batches) + uint64_t(micro)) * uint64_t(micro_batch_size) + uint64_t(r);
}

// spec:
//   "synthetic"      a random sparse Markov chain over default_vocab states, drawn from `seed`
//   "synthetic:V"    the same over V states (V >= 2)
//   PATH             a file: an llm.c token file when its first 4 bytes are the llm.c magic (int32
//                    20240520, version 1, uint16 tokens, vocabulary 50257), otherwise raw bytes (V = 256).
// The file's contents are read into memory here; errors (missing file, bad header, truncated payload,
// token out of range, bad spec) throw parity::Error naming the file and the problem.
std::unique_ptr<TokenSource> make_token_source(const std::string& spec, uint64_t seed, int default_vocab);

// The synthetic source's entropy rate in nats per token: the best achievable mean cross-entropy of a model
// that predicts each target from the inputs before it. Throws parity::Error for any other source.
double synthetic_entropy_rate(const TokenSource& source);

}  // namespace parity
