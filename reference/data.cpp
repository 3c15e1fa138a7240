// Token sources (see data.hpp): a synthetic Markov chain with a known entropy rate, raw text files and
// llm.c token files.
#include "reference/data.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "kernels/error.hpp"

namespace parity {
namespace {

// ------------------------------------------------------------------------------------ counter-based RNG

__extension__ typedef unsigned __int128 u128;

// splitmix64's output function: a bijection on 64-bit words with good avalanche.
inline uint64_t mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// The draw for (seed, row, t): stateless, so any row can be generated alone, in any order, on any rank.
inline uint64_t draw(uint64_t seed, uint64_t row, uint64_t t) { return mix64(mix64(mix64(seed) ^ row) ^ t); }

// Uniform integer in [0, n) from a 64-bit draw (multiply-high; bias below n / 2^64).
inline uint64_t below(uint64_t x, uint64_t n) {
  return static_cast<uint64_t>((static_cast<u128>(x) * n) >> 64);
}

// ------------------------------------------------------------------------------------ synthetic source

// A sparse random Markov chain over V states whose entropy rate is known in closed form.
//
// The transition matrix is a mixture of K random permutation matrices with fixed weights p_k:
//     P(s, s') = sum_k p_k [pi_k(s) = s'],   sum_k p_k = 1.
// Each permutation matrix is doubly stochastic, so P is too: every column sums to sum_k p_k = 1. Hence the
// uniform distribution u is stationary (u P = u). Every row starts in a uniform state, so the chain is
// stationary from t = 0 and every position has a uniform marginal. For a stationary Markov chain the
// conditional entropy of the next state given the whole past is the entropy of the current state's row:
//     H(x_{t+1} | x_0..x_t) = H(x_{t+1} | x_t) = (1/V) sum_s H(P(s, .)),
//     H(P(s, .)) = - sum_{s'} q_s(s') ln q_s(s'),   q_s(s') = sum_{k : pi_k(s) = s'} p_k,
// where the inner sum merges the (rare) collisions in which two permutations send s to the same state.
// This is the best mean cross-entropy any model can reach on targets predicted from the inputs before
// them; without collisions it is the entropy of p, -sum p_k ln p_k = 1.1098 nats for the weights below.
// (The chain need not be irreducible: stationarity of the start distribution is all the formula needs.)
class SyntheticSource final : public TokenSource {
 public:
  static constexpr int K = 4;
  static constexpr double kWeights[K] = {0.55, 0.25, 0.15, 0.05};

  SyntheticSource(int V, uint64_t seed) : V_(V), seed_(seed), next_(size_t(K) * size_t(V)) {
    // Permutations by Fisher-Yates from a seed-derived stream, separated from the sequence draws by
    // using row = ~0 - k (no training run reaches those row indices).
    for (int k = 0; k < K; ++k) {
      int32_t* pi = &next_[size_t(k) * size_t(V)];
      for (int s = 0; s < V; ++s) pi[s] = s;
      for (int i = V - 1; i > 0; --i) {
        const uint64_t j = below(draw(seed, ~uint64_t(0) - uint64_t(k), uint64_t(i)), uint64_t(i) + 1);
        std::swap(pi[i], pi[j]);
      }
    }
    // Cumulative thresholds on a 53-bit uniform integer: P(k) = p_k up to 2^-53.
    double cum = 0;
    for (int k = 0; k < K - 1; ++k) {
      cum += kWeights[k];
      threshold_[k] = static_cast<uint64_t>(std::ldexp(cum, 53));
    }
    threshold_[K - 1] = uint64_t(1) << 53;
    // Closed-form entropy rate (see above).
    double total = 0;
    for (int s = 0; s < V; ++s) {
      int32_t to[K];
      double q[K];
      int m = 0;
      for (int k = 0; k < K; ++k) {
        const int32_t t = next_[size_t(k) * size_t(V) + size_t(s)];
        int j = 0;
        while (j < m && to[j] != t) ++j;
        if (j == m) {
          to[m] = t;
          q[m++] = 0;
        }
        q[j] += kWeights[k];
      }
      for (int j = 0; j < m; ++j) total -= q[j] * std::log(q[j]);
    }
    entropy_ = total / V;
  }

  int vocab_size() const override { return V_; }

  std::string describe() const override {
    char buf[160];
    std::snprintf(buf, sizeof buf, "synthetic(V=%d, seed=%llu, H=%.4f nats)", V_,
                  static_cast<unsigned long long>(seed_), entropy_);
    return buf;
  }

  void sequence(uint64_t row, int T, int32_t* inputs, int32_t* targets) const override {
    if (T <= 0) throw Error("sequence length must be positive, got " + std::to_string(T));
    // Draw 0 picks the start state, draw t+1 the transition out of position t.
    int32_t x = static_cast<int32_t>(below(draw(seed_, row, 0), uint64_t(V_)));
    for (int t = 0; t < T; ++t) {
      const uint64_t u = draw(seed_, row, uint64_t(t) + 1) >> 11;
      int k = 0;
      while (u >= threshold_[k]) ++k;
      const int32_t y = next_[size_t(k) * size_t(V_) + size_t(x)];
      inputs[t] = x;
      targets[t] = y;
      x = y;
    }
  }

  double entropy_rate() const { return entropy_; }

 private:
  int V_;
  uint64_t seed_;
  std::vector<int32_t> next_;  // next_[k * V + s] = pi_k(s)
  uint64_t threshold_[K];
  double entropy_ = 0;
};

constexpr double SyntheticSource::kWeights[SyntheticSource::K];

// ------------------------------------------------------------------------------------ file sources

// The whole file in memory (fine for the data sizes parity trains on; mmap would be the next step for
// multi-gigabyte token files).
std::vector<uint8_t> read_whole_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw Error("cannot read data file " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw Error("cannot read data file " + path + ": " + std::strerror(err));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    throw Error("cannot read data file " + path + ": it is a directory");
  }
  std::vector<uint8_t> bytes;
  if (st.st_size > 0) bytes.reserve(static_cast<size_t>(st.st_size));
  uint8_t buf[1 << 16];
  while (true) {
    const ssize_t got = ::read(fd, buf, sizeof buf);
    if (got < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      throw Error("cannot read data file " + path + ": " + std::strerror(err));
    }
    if (got == 0) break;
    bytes.insert(bytes.end(), buf, buf + got);
  }
  ::close(fd);
  return bytes;
}

// Start of row `row`'s window of T+1 tokens in a stream of n tokens: the file is walked in order,
// T tokens per row (the last target of one row is the first input of the next), wrapping around.
// Valid starts are 0 .. n-T-1, i.e. n-T of them.
uint64_t window_start(uint64_t row, int T, uint64_t n, const std::string& what) {
  if (T <= 0) throw Error("sequence length must be positive, got " + std::to_string(T));
  if (n < uint64_t(T) + 1) {
    throw Error(what + " too few for one sequence of T+1 = " + std::to_string(T + 1) + " tokens");
  }
  const uint64_t m = n - uint64_t(T);
  return static_cast<uint64_t>((static_cast<u128>(row % m) * (uint64_t(T) % m)) % m);
}

class TextSource final : public TokenSource {
 public:
  TextSource(std::string path, std::vector<uint8_t> bytes) : path_(std::move(path)), bytes_(std::move(bytes)) {
    if (bytes_.empty()) throw Error("data file " + path_ + " is empty");
  }
  int vocab_size() const override { return 256; }
  std::string describe() const override {
    return "text:" + path_ + " (" + std::to_string(bytes_.size()) + " bytes)";
  }
  void sequence(uint64_t row, int T, int32_t* inputs, int32_t* targets) const override {
    const uint64_t o = window_start(row, T, bytes_.size(),
                                    "data file " + path_ + " has " + std::to_string(bytes_.size()) + " bytes,");
    for (int t = 0; t < T; ++t) {
      inputs[t] = bytes_[o + t];
      targets[t] = bytes_[o + t + 1];
    }
  }

 private:
  std::string path_;
  std::vector<uint8_t> bytes_;
};

// llm.c token files (the format of llm.c's dev/data scripts): a header of 256 int32 (magic 20240520,
// version 1, token count, rest zero) followed by the tokens as uint16, GPT-2 vocabulary.
constexpr int32_t kLlmcMagic = 20240520;
constexpr int kLlmcHeaderInts = 256;
constexpr int kGpt2Vocab = 50257;

class LlmcSource final : public TokenSource {
 public:
  LlmcSource(std::string path, const std::vector<uint8_t>& bytes) : path_(std::move(path)) {
    const size_t header_bytes = kLlmcHeaderInts * sizeof(int32_t);
    if (bytes.size() < header_bytes) {
      throw Error("llm.c token file " + path_ + " is truncated: " + std::to_string(bytes.size()) +
                  " bytes, shorter than the " + std::to_string(header_bytes) + "-byte header");
    }
    int32_t header[3];
    std::memcpy(header, bytes.data(), sizeof header);
    if (header[1] != 1) {
      throw Error("llm.c token file " + path_ + " has version " + std::to_string(header[1]) +
                  (header[1] == 2 ? " (uint32 tokens, LLaMA-3 style)" : "") +
                  "; parity reads version 1 (uint16 GPT-2 tokens)");
    }
    const int64_t count = header[2];
    if (count <= 0) {
      throw Error("llm.c token file " + path_ + " has a bad header: token count " + std::to_string(count));
    }
    const uint64_t payload = bytes.size() - header_bytes;
    const uint64_t expected = uint64_t(count) * sizeof(uint16_t);
    if (payload < expected) {
      throw Error("llm.c token file " + path_ + " is truncated: the header says " + std::to_string(count) +
                  " tokens (" + std::to_string(expected) + " bytes) but only " + std::to_string(payload) +
                  " bytes follow it");
    }
    if (payload > expected) {
      throw Error("llm.c token file " + path_ + " does not match its header: " + std::to_string(count) +
                  " tokens (" + std::to_string(expected) + " bytes) announced, " + std::to_string(payload) +
                  " bytes follow it");
    }
    tokens_.resize(size_t(count));
    std::memcpy(tokens_.data(), bytes.data() + header_bytes, expected);
    for (size_t i = 0; i < tokens_.size(); ++i) {
      if (tokens_[i] >= kGpt2Vocab) {
        throw Error("llm.c token file " + path_ + " has token " + std::to_string(tokens_[i]) + " at index " +
                    std::to_string(i) + ", outside the GPT-2 vocabulary of " + std::to_string(kGpt2Vocab));
      }
    }
  }
  int vocab_size() const override { return kGpt2Vocab; }
  std::string describe() const override {
    return "llmc:" + path_ + " (" + std::to_string(tokens_.size()) + " tokens)";
  }
  void sequence(uint64_t row, int T, int32_t* inputs, int32_t* targets) const override {
    const uint64_t o = window_start(row, T, tokens_.size(),
                                    "llm.c token file " + path_ + " has " + std::to_string(tokens_.size()) +
                                        " tokens,");
    for (int t = 0; t < T; ++t) {
      inputs[t] = tokens_[o + t];
      targets[t] = tokens_[o + t + 1];
    }
  }

 private:
  std::string path_;
  std::vector<uint16_t> tokens_;
};

constexpr int kMaxSyntheticVocab = 1 << 24;

int parse_vocab(const std::string& spec, const std::string& digits) {
  if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) {
    throw Error("bad data spec '" + spec + "': expected synthetic:V with V a positive integer");
  }
  return std::stoi(digits);
}

void check_vocab(const std::string& spec, int V) {
  if (V < 2 || V > kMaxSyntheticVocab) {
    throw Error("bad data spec '" + spec + "': the synthetic vocabulary must be in [2, " +
                std::to_string(kMaxSyntheticVocab) + "], got " + std::to_string(V));
  }
}

}  // namespace

std::unique_ptr<TokenSource> make_token_source(const std::string& spec, uint64_t seed, int default_vocab) {
  if (spec == "synthetic") {
    check_vocab(spec, default_vocab);
    return std::make_unique<SyntheticSource>(default_vocab, seed);
  }
  const std::string prefix = "synthetic:";
  if (spec.compare(0, prefix.size(), prefix) == 0) {
    const int V = parse_vocab(spec, spec.substr(prefix.size()));
    check_vocab(spec, V);
    return std::make_unique<SyntheticSource>(V, seed);
  }
  if (spec.empty()) throw Error("empty data spec: expected synthetic, synthetic:V or a file path");
  std::vector<uint8_t> bytes = read_whole_file(spec);
  int32_t magic = 0;
  if (bytes.size() >= sizeof magic) std::memcpy(&magic, bytes.data(), sizeof magic);
  if (magic == kLlmcMagic) return std::make_unique<LlmcSource>(spec, bytes);
  // A file that says it is something else is not trained on as text: a .bin name promises llm.c tokens, an
  // HDF5 signature a checkpoint or results file given as --data by mistake.
  const bool bin = spec.size() >= 4 && spec.compare(spec.size() - 4, 4, ".bin") == 0;
  if (bin)
    throw Error("data file " + spec + " is named .bin but does not start with the llm.c token-file magic " +
                std::to_string(kLlmcMagic) + " (it starts with " + std::to_string(magic) +
                "); to train on its bytes as text, give it another extension");
  static const uint8_t kHdf5Signature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  if (bytes.size() >= 8 && std::memcmp(bytes.data(), kHdf5Signature, 8) == 0)
    throw Error("data file " + spec + " is an HDF5 file (a checkpoint or results file?), not text or llm.c tokens");
  return std::make_unique<TextSource>(spec, std::move(bytes));
}

double synthetic_entropy_rate(const TokenSource& source) {
  const auto* s = dynamic_cast<const SyntheticSource*>(&source);
  if (!s) throw Error("the entropy rate is known only for synthetic data, not for " + source.describe());
  return s->entropy_rate();
}

}  // namespace parity
