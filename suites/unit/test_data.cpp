// Unit tests for the token sources (reference/data.hpp).
#include <dirent.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "reference/data.hpp"
#include "kernels/error.hpp"

namespace {

using parity::make_token_source;
using parity::TokenSource;

class DataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "parity_data_XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    ASSERT_NE(::mkdtemp(buf.data()), nullptr);
    dir_ = buf.data();
  }
  void TearDown() override {
    if (DIR* d = ::opendir(dir_.c_str())) {
      while (dirent* e = ::readdir(d)) {
        const std::string n = e->d_name;
        if (n != "." && n != "..") std::remove((dir_ + "/" + n).c_str());
      }
      ::closedir(d);
    }
    ::rmdir(dir_.c_str());
  }
  std::string write_file(const std::string& name, const std::string& bytes) const {
    const std::string p = dir_ + "/" + name;
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
  }
  // An llm.c token file: 256 int32 header (magic, version, count) then uint16 tokens.
  std::string write_llmc(const std::string& name, const std::vector<uint16_t>& tokens, int32_t version = 1,
                         int64_t count = -1, int32_t magic = 20240520) const {
    std::vector<int32_t> header(256, 0);
    header[0] = magic;
    header[1] = version;
    header[2] = static_cast<int32_t>(count < 0 ? int64_t(tokens.size()) : count);
    std::string bytes(reinterpret_cast<const char*>(header.data()), header.size() * 4);
    bytes.append(reinterpret_cast<const char*>(tokens.data()), tokens.size() * 2);
    return write_file(name, bytes);
  }
  std::string dir_;
};

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const parity::Error& e) {
    return e.what();
  }
  return "(no parity::Error thrown)";
}

struct Seq {
  std::vector<int32_t> in, tgt;
};
Seq seq(const TokenSource& src, uint64_t row, int T) {
  Seq s{std::vector<int32_t>(T), std::vector<int32_t>(T)};
  src.sequence(row, T, s.in.data(), s.tgt.data());
  return s;
}

TEST(DataSynthetic, DeterministicAndOrderIndependent) {
  const int T = 64;
  auto a = make_token_source("synthetic", 7, 256);
  auto b = make_token_source("synthetic:256", 7, 999);  // explicit V overrides the default
  EXPECT_EQ(a->vocab_size(), 256);
  EXPECT_EQ(b->vocab_size(), 256);
  // Row 5 read first, last, twice, and from another instance: always the same.
  const Seq first = seq(*a, 5, T);
  for (uint64_t r = 0; r < 20; ++r) seq(*a, r, T);
  EXPECT_EQ(seq(*a, 5, T).in, first.in);
  EXPECT_EQ(seq(*a, 5, T).tgt, first.tgt);
  EXPECT_EQ(seq(*b, 5, T).in, first.in);
  // Huge row indices work (any step of any run).
  const Seq far = seq(*a, ~uint64_t(0) >> 8, T);
  EXPECT_EQ(seq(*a, ~uint64_t(0) >> 8, T).in, far.in);
  // A shorter sequence of the same row is a prefix of the longer one.
  const Seq shorter = seq(*a, 5, 10);
  EXPECT_TRUE(std::equal(shorter.in.begin(), shorter.in.end(), first.in.begin()));
  // Different rows and different seeds give different data.
  EXPECT_NE(seq(*a, 6, T).in, first.in);
  auto c = make_token_source("synthetic", 8, 256);
  EXPECT_NE(seq(*c, 5, T).in, first.in);
  EXPECT_NE(a->describe().find("synthetic(V=256, seed=7, H="), std::string::npos) << a->describe();
}

TEST(DataSynthetic, TargetsAreShiftedInputsAndInRange) {
  for (int V : {2, 3, 256, 50257}) {
    auto src = make_token_source("synthetic:" + std::to_string(V), 1, 0);
    for (uint64_t row = 0; row < 8; ++row) {
      const Seq s = seq(*src, row, 128);
      for (int t = 0; t < 128; ++t) {
        ASSERT_GE(s.in[t], 0);
        ASSERT_LT(s.in[t], V);
        ASSERT_GE(s.tgt[t], 0);
        ASSERT_LT(s.tgt[t], V);
        if (t + 1 < 128) {
          ASSERT_EQ(s.tgt[t], s.in[t + 1]) << "V=" << V << " row " << row << " t " << t;
        }
      }
    }
  }
}

TEST(DataSynthetic, EmpiricalEntropyMatchesClosedForm) {
  const int V = 256, T = 1024, rows = 2048;  // 2M transitions, ~8k per state
  auto src = make_token_source("synthetic", 3, V);
  const double H = parity::synthetic_entropy_rate(*src);
  // Mixture of 4 permutations with weights .55/.25/.15/.05: at most H(p) = 1.1098 nats, slightly less
  // where permutations collide.
  EXPECT_GT(H, 0.9);
  EXPECT_LE(H, 1.1099);
  std::vector<uint64_t> pair(size_t(V) * V, 0), from(V, 0), visits(V, 0);
  std::vector<int32_t> in(T), tgt(T);
  for (uint64_t r = 0; r < rows; ++r) {
    src->sequence(r, T, in.data(), tgt.data());
    for (int t = 0; t < T; ++t) {
      ++pair[size_t(in[t]) * V + tgt[t]];
      ++from[in[t]];
    }
    ++visits[in[0]];
  }
  double n = double(rows) * T, cross = 0;
  for (int s = 0; s < V; ++s) {
    for (int u = 0; u < V; ++u) {
      const double c = double(pair[size_t(s) * V + u]);
      if (c > 0) cross -= c / n * std::log(c / double(from[s]));
    }
  }
  EXPECT_NEAR(cross, H, 0.02 * H) << "empirical " << cross << " vs closed form " << H;
  // Stationary distribution is uniform: every state visited about n/V times.
  for (int s = 0; s < V; ++s) EXPECT_NEAR(double(from[s]) / (n / V), 1.0, 0.1) << s;
  // And the closed form is what a different seed of the same V also gives, up to collisions.
  const double H2 = parity::synthetic_entropy_rate(*make_token_source("synthetic", 4, V));
  EXPECT_NEAR(H2, H, 0.05);
}

TEST(DataSynthetic, BadSpecs) {
  EXPECT_NE(error_of([] { make_token_source("synthetic:abc", 1, 256); }).find("synthetic:abc"), std::string::npos);
  EXPECT_NE(error_of([] { make_token_source("synthetic:1", 1, 256); }).find("synthetic:1"), std::string::npos);
  EXPECT_NE(error_of([] { make_token_source("synthetic:", 1, 256); }).find("bad data spec"), std::string::npos);
  EXPECT_THROW(make_token_source("synthetic", 1, 0), parity::Error);
  EXPECT_THROW(make_token_source("", 1, 256), parity::Error);
  auto src = make_token_source("synthetic", 1, 16);
  std::vector<int32_t> a(1), b(1);
  EXPECT_THROW(src->sequence(0, 0, a.data(), b.data()), parity::Error);
}

TEST(DataRows, GlobalRowNumbering) {
  // row = (step * micro_batches + micro) * micro_batch_size + r
  EXPECT_EQ(parity::global_row(0, 4, 0, 8, 0), 0u);
  EXPECT_EQ(parity::global_row(0, 4, 1, 8, 3), 11u);
  EXPECT_EQ(parity::global_row(2, 4, 3, 8, 7), (2u * 4 + 3) * 8 + 7);
}

TEST_F(DataTest, TextRoundTrip) {
  std::string text;
  for (int i = 0; i < 100; ++i) text.push_back(char(i * 7 + 1));  // bytes 1, 8, ..., some >= 128
  const std::string path = write_file("corpus.txt", text);
  auto src = make_token_source(path, 99, 50257);
  EXPECT_EQ(src->vocab_size(), 256);
  EXPECT_EQ(src->describe(), "text:" + path + " (100 bytes)");
  const int T = 8;
  // Rows walk the file T tokens at a time; valid starts are 0 .. n-T-1 (n-T = 92 of them), then it wraps.
  for (uint64_t row : {0ull, 1ull, 5ull, 11ull, 12ull, 23ull, 1000000007ull}) {
    const Seq s = seq(*src, row, T);
    const uint64_t o = (row * T) % (100 - T);
    for (int t = 0; t < T; ++t) {
      EXPECT_EQ(s.in[t], int32_t(uint8_t(text[o + t]))) << row << " " << t;
      EXPECT_EQ(s.tgt[t], int32_t(uint8_t(text[o + t + 1]))) << row << " " << t;
    }
  }
  // The seed does not matter for files.
  auto other = make_token_source(path, 1, 256);
  EXPECT_EQ(seq(*other, 3, T).in, seq(*src, 3, T).in);
  // Exactly T+1 bytes is enough; T+2 needed is not.
  EXPECT_EQ(seq(*src, 7, 99).in, seq(*src, 0, 99).in);
  const std::string e = error_of([&] { seq(*src, 0, 100); });
  EXPECT_NE(e.find(path), std::string::npos) << e;
  EXPECT_NE(e.find("100 bytes"), std::string::npos) << e;
  EXPECT_NE(e.find("101"), std::string::npos) << e;
  // Only the synthetic source has a known entropy rate.
  EXPECT_THROW(parity::synthetic_entropy_rate(*src), parity::Error);
}

TEST_F(DataTest, LlmcRoundTrip) {
  std::vector<uint16_t> tokens;
  for (int i = 0; i < 300; ++i) tokens.push_back(uint16_t((i * 977) % 50257));
  tokens[17] = 50256;  // <|endoftext|>, the largest valid token
  const std::string path = write_llmc("shard_000.bin", tokens);
  auto src = make_token_source(path, 1, 256);
  EXPECT_EQ(src->vocab_size(), 50257);
  EXPECT_EQ(src->describe(), "llmc:" + path + " (300 tokens)");
  const int T = 16;
  for (uint64_t row : {0ull, 1ull, 2ull, 17ull, 18ull, 123456789ull}) {
    const Seq s = seq(*src, row, T);
    const uint64_t o = (row * T) % (300 - T);
    for (int t = 0; t < T; ++t) {
      ASSERT_EQ(s.in[t], tokens[o + t]) << row << " " << t;
      ASSERT_EQ(s.tgt[t], tokens[o + t + 1]) << row << " " << t;
    }
  }
  // Detection is by magic, not extension: the same bytes under a .txt name are still llm.c tokens.
  const std::string renamed = write_llmc("tokens.txt", tokens);
  EXPECT_EQ(make_token_source(renamed, 1, 256)->vocab_size(), 50257);
}

TEST_F(DataTest, FileErrors) {
  std::string e = error_of([&] { make_token_source(dir_ + "/missing.bin", 1, 256); });
  EXPECT_NE(e.find("cannot read data file " + dir_ + "/missing.bin: "), std::string::npos) << e;
  e = error_of([&] { make_token_source(dir_, 1, 256); });
  EXPECT_NE(e.find("cannot read data file " + dir_), std::string::npos) << e;
  e = error_of([&] { make_token_source(write_file("empty.txt", ""), 1, 256); });
  EXPECT_NE(e.find("empty.txt"), std::string::npos) << e;

  const std::vector<uint16_t> tokens = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  e = error_of([&] { make_token_source(write_llmc("v2.bin", tokens, 2), 1, 256); });
  EXPECT_NE(e.find("v2.bin"), std::string::npos) << e;
  EXPECT_NE(e.find("version 2"), std::string::npos) << e;
  e = error_of([&] { make_token_source(write_llmc("v7.bin", tokens, 7), 1, 256); });
  EXPECT_NE(e.find("version 7"), std::string::npos) << e;
  e = error_of([&] { make_token_source(write_llmc("trunc.bin", tokens, 1, 11), 1, 256); });
  EXPECT_NE(e.find("trunc.bin"), std::string::npos) << e;
  EXPECT_NE(e.find("truncated"), std::string::npos) << e;
  e = error_of([&] { make_token_source(write_llmc("long.bin", tokens, 1, 9), 1, 256); });
  EXPECT_NE(e.find("long.bin"), std::string::npos) << e;
  e = error_of([&] { make_token_source(write_llmc("zero.bin", {}, 1, 0), 1, 256); });
  EXPECT_NE(e.find("zero.bin"), std::string::npos) << e;
  // A negative count, written by hand (the helper treats count < 0 as "use tokens.size()").
  {
    std::vector<int32_t> header(256, 0);
    header[0] = 20240520;
    header[1] = 1;
    header[2] = -5;
    const std::string p = write_file("negative.bin", std::string(reinterpret_cast<const char*>(header.data()), 1024));
    e = error_of([&] { make_token_source(p, 1, 256); });
    EXPECT_NE(e.find("negative.bin"), std::string::npos) << e;
    EXPECT_NE(e.find("-5"), std::string::npos) << e;
  }
  e = error_of([&] { make_token_source(write_file("short_header.bin", std::string("\x88\xd8\x34\x01", 4) + "xy"), 1, 256); });
  EXPECT_NE(e.find("short_header.bin"), std::string::npos) << e;
  EXPECT_NE(e.find("header"), std::string::npos) << e;
  std::vector<uint16_t> bad = tokens;
  bad[4] = 50257;
  e = error_of([&] { make_token_source(write_llmc("oov.bin", bad), 1, 256); });
  EXPECT_NE(e.find("oov.bin"), std::string::npos) << e;
  EXPECT_NE(e.find("50257"), std::string::npos) << e;
  EXPECT_NE(e.find("index 4"), std::string::npos) << e;
  // Too few tokens for the sequence length: named at the first read.
  auto small = make_token_source(write_llmc("small.bin", tokens), 1, 256);
  e = error_of([&] { seq(*small, 0, 10); });
  EXPECT_NE(e.find("small.bin"), std::string::npos) << e;
  EXPECT_NE(e.find("10 tokens"), std::string::npos) << e;
  EXPECT_EQ(seq(*small, 3, 9).in, std::vector<int32_t>({1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

}  // namespace
