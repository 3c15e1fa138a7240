// `parity compare`: bitwise equality, largest differences, ULP distance, first differing index, shape and
// type mismatches, missing tensors, NaN and signed-zero rules, exit statuses (0 same, 1 differ, 2 error).
// The command runs as a subprocess (PARITY_BINARY) on small files written here with parity::H5Writer; the
// H5Reader additions it relies on (is_group, dtype, attrs) are tested directly.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/error.hpp"
#include "reference/h5io.hpp"

namespace {

using parity::H5Reader;
using parity::H5Writer;

struct Result {
  int rc = -1;
  std::string out, err;
};

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string quote(const std::string& s) {
  std::string o = "'";
  for (char c : s) o += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return o + "'";
}

// Runs `parity ARGS` with stdout and stderr captured.
Result parity_run(const std::string& dir, const std::vector<std::string>& args) {
  std::string cmd = quote(PARITY_BINARY);
  for (const std::string& a : args) cmd += " " + quote(a);
  const std::string out = dir + "/stdout.txt", err = dir + "/stderr.txt";
  cmd += " >" + quote(out) + " 2>" + quote(err);
  const int st = std::system(cmd.c_str());
  Result r;
  r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (char c : s) {
    if (c == '"') {
      quoted = !quoted;
      continue;
    }
    if (c == sep && !quoted) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

// CSV output of `parity compare --format csv` as tensor -> column -> value.
std::map<std::string, std::map<std::string, std::string>> parse_csv(const std::string& text) {
  std::map<std::string, std::map<std::string, std::string>> rows;
  std::stringstream ss(text);
  std::string line;
  std::vector<std::string> head;
  while (std::getline(ss, line)) {
    if (line.empty()) continue;
    const std::vector<std::string> f = split(line, ',');
    if (head.empty()) {
      head = f;
      continue;
    }
    for (size_t i = 0; i < f.size() && i < head.size(); ++i) rows[f[0]][head[i]] = f[i];
  }
  return rows;
}

class CompareTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "parity_compare_XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    ASSERT_NE(::mkdtemp(buf.data()), nullptr);
    dir_ = buf.data();
  }
  void TearDown() override { std::system(("rm -rf " + quote(dir_)).c_str()); }
  std::string file(const std::string& name) const { return dir_ + "/" + name; }
  Result compare(const std::vector<std::string>& args) {
    std::vector<std::string> a = {"compare"};
    a.insert(a.end(), args.begin(), args.end());
    return parity_run(dir_, a);
  }

  // A small "checkpoint": /params/a [2,3], /params/b [4], /adam/m/a [2,3], attributes, an int dataset.
  void write_checkpoint(const std::string& path, const std::vector<float>& a, std::vector<hsize_t> a_dims = {2, 3},
                        bool with_b = true, bool with_extra = false) {
    H5Writer w(path);
    w.write("/params/a", a.data(), a_dims);
    const std::vector<float> b = {0.5f, -1.25f, 3.0f, 1e-20f};
    if (with_b) w.write("/params/b", b.data(), {4});
    const std::vector<float> m = {1, 2, 3, 4, 5, 6};
    w.write("/adam/m/a", m.data(), {2, 3});
    if (with_extra) w.write("/params/extra", b.data(), {4});
    w.attr("/", "format", std::string("parity-checkpoint-1"));
    w.commit();
  }

  std::string dir_;
};

const std::vector<float> kA = {0.1f, -0.2f, 0.3f, 1.5f, -2.5f, 3.25f};

TEST_F(CompareTest, IdenticalFilesAreBitIdenticalExitZero) {
  write_checkpoint(file("x.h5"), kA);
  write_checkpoint(file("y.h5"), kA);
  const Result r = compare({file("x.h5"), file("y.h5")});
  EXPECT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_EQ(r.out.substr(0, r.out.find('\n')), "bit-identical: 3 tensors, 16 elements");
  // The table follows: a header and one line per tensor, in natural name order.
  EXPECT_NE(r.out.find("\ntensor "), std::string::npos) << r.out;
  EXPECT_LT(r.out.find("/adam/m/a"), r.out.find("/params/a"));
  EXPECT_LT(r.out.find("/params/a"), r.out.find("/params/b"));
  EXPECT_EQ(r.err, "");
}

TEST_F(CompareTest, OneFlippedBitIsOneUlpAtTheRightIndex) {
  std::vector<float> b = kA;
  b[5] = from_bits(bits(b[5]) ^ 1u);  // element [1,2]
  write_checkpoint(file("x.h5"), kA);
  write_checkpoint(file("y.h5"), b);
  const Result t = compare({file("x.h5"), file("y.h5")});
  EXPECT_EQ(t.rc, 1) << t.out << t.err;
  const std::string first = t.out.substr(0, t.out.find('\n'));
  EXPECT_EQ(first.rfind("differ: 1 of 3 tensors; first /params/a[1,2] (flat 5): 3.25 vs 3.25000024", 0), 0u) << first;
  EXPECT_NE(first.find("max 1 ULP"), std::string::npos) << first;

  const Result c = compare({file("x.h5"), file("y.h5"), "--format", "csv"});
  EXPECT_EQ(c.rc, 1);
  auto rows = parse_csv(c.out);
  ASSERT_EQ(rows.size(), 3u) << c.out;
  EXPECT_EQ(rows["/params/a"]["status"], "differ");
  EXPECT_EQ(rows["/params/a"]["elements"], "6");
  EXPECT_EQ(rows["/params/a"]["differing"], "1");
  EXPECT_EQ(rows["/params/a"]["max_ulp"], "1");
  EXPECT_EQ(rows["/params/a"]["first_index"], "5");
  EXPECT_EQ(rows["/params/a"]["first_index_nd"], "[1,2]");
  EXPECT_EQ(rows["/params/a"]["max_abs"], "2.38418579e-07");  // 2^-22: one ULP at 3.25
  EXPECT_EQ(rows["/params/b"]["status"], "same");
  EXPECT_EQ(rows["/params/b"]["differing"], "0");
  EXPECT_EQ(rows["/params/b"]["first_index"], "-1");

  // --diff-only keeps only the differing tensor.
  const Result d = compare({file("x.h5"), file("y.h5"), "--format", "csv", "--diff-only"});
  EXPECT_EQ(parse_csv(d.out).size(), 1u) << d.out;
}

TEST_F(CompareTest, ShapeMismatchIsADifference) {
  write_checkpoint(file("x.h5"), kA, {2, 3});
  write_checkpoint(file("y.h5"), kA, {3, 2});
  const Result t = compare({file("x.h5"), file("y.h5")});
  EXPECT_EQ(t.rc, 1) << t.out << t.err;
  EXPECT_EQ(t.out.substr(0, t.out.find('\n')), "differ: 1 of 3 tensors; first /params/a: 2x3 vs 3x2; max abs 0, max rel 0, max 0 ULP");
  auto rows = parse_csv(compare({file("x.h5"), file("y.h5"), "--format", "csv"}).out);
  EXPECT_EQ(rows["/params/a"]["status"], "shape");
  EXPECT_EQ(rows["/params/a"]["shape_a"], "2x3");
  EXPECT_EQ(rows["/params/a"]["shape_b"], "3x2");
}

TEST_F(CompareTest, MissingTensorsAreListedOnTheirSide) {
  write_checkpoint(file("x.h5"), kA, {2, 3}, /*with_b=*/true, /*with_extra=*/false);
  write_checkpoint(file("y.h5"), kA, {2, 3}, /*with_b=*/false, /*with_extra=*/true);
  const Result t = compare({file("x.h5"), file("y.h5")});
  EXPECT_EQ(t.rc, 1) << t.out << t.err;
  EXPECT_NE(t.out.find("differ: 0 of 2 tensors; 1 only in " + file("x.h5") + "; 1 only in " + file("y.h5")),
            std::string::npos)
      << t.out;
  auto rows = parse_csv(compare({file("x.h5"), file("y.h5"), "--format", "csv"}).out);
  EXPECT_EQ(rows["/params/b"]["status"], "only_a");
  EXPECT_EQ(rows["/params/extra"]["status"], "only_b");
  EXPECT_EQ(rows["/params/a"]["status"], "same");
}

TEST_F(CompareTest, NanInfinityAndSignedZeroRules) {
  const float nan1 = from_bits(0x7fc00000u), nan2 = from_bits(0x7fc00001u);
  const float inf = std::numeric_limits<float>::infinity();
  const float tiny = std::numeric_limits<float>::denorm_min();
  const float big = std::numeric_limits<float>::max();
  // name -> (a, b)
  const std::vector<std::pair<std::string, std::pair<float, float>>> cases = {
      {"zero_sign", {0.0f, -0.0f}},    {"nan_payload", {nan1, nan2}}, {"nan_same", {nan1, nan1}},
      {"nan_number", {nan1, 1.0f}},    {"inf_max", {inf, big}},       {"subnormals", {tiny, -tiny}},
      {"sign", {1.0f, -1.0f}},         {"inf_same", {inf, inf}}};
  {
    H5Writer a(file("x.h5")), b(file("y.h5"));
    for (const auto& [name, v] : cases) {
      a.write("/t/" + name, &v.first, {1});
      b.write("/t/" + name, &v.second, {1});
    }
    a.commit();
    b.commit();
  }
  const Result r = compare({file("x.h5"), file("y.h5"), "--format", "csv"});
  EXPECT_EQ(r.rc, 1) << r.out << r.err;
  auto rows = parse_csv(r.out);
  ASSERT_EQ(rows.size(), cases.size()) << r.out;
  // -0 and +0: different bits, the same value: counted as differing, 0 apart.
  EXPECT_EQ(rows["/t/zero_sign"]["differing"], "1");
  EXPECT_EQ(rows["/t/zero_sign"]["max_ulp"], "0");
  EXPECT_EQ(rows["/t/zero_sign"]["max_abs"], "0");
  EXPECT_EQ(rows["/t/zero_sign"]["max_rel"], "0");
  // Two NaNs with different payloads: bits differ, values do not.
  EXPECT_EQ(rows["/t/nan_payload"]["differing"], "1");
  EXPECT_EQ(rows["/t/nan_payload"]["max_ulp"], "0");
  EXPECT_EQ(rows["/t/nan_payload"]["max_abs"], "0");
  // The same NaN bits are identical.
  EXPECT_EQ(rows["/t/nan_same"]["status"], "same");
  // A NaN against a number is an infinite difference.
  EXPECT_EQ(rows["/t/nan_number"]["max_abs"], "inf");
  EXPECT_EQ(rows["/t/nan_number"]["max_rel"], "inf");
  EXPECT_EQ(rows["/t/nan_number"]["max_ulp"], "inf");
  // Infinity is one step past the largest finite float.
  EXPECT_EQ(rows["/t/inf_max"]["max_ulp"], "1");
  EXPECT_EQ(rows["/t/inf_max"]["max_abs"], "inf");
  EXPECT_EQ(rows["/t/inf_same"]["status"], "same");
  // The smallest subnormals of either sign are 1 ULP from zero, so 2 apart.
  EXPECT_EQ(rows["/t/subnormals"]["max_ulp"], "2");
  EXPECT_EQ(rows["/t/subnormals"]["max_rel"], "2");
  // 1 and -1: twice the distance of 1.0f from zero on the integer line.
  EXPECT_EQ(rows["/t/sign"]["max_ulp"], std::to_string(2ll * 0x3f800000));
  EXPECT_EQ(rows["/t/sign"]["max_abs"], "2");
  EXPECT_EQ(rows["/t/sign"]["max_rel"], "2");

  // The text summary names the first difference in natural order: /t/inf_max.
  const Result t = compare({file("x.h5"), file("y.h5")});
  EXPECT_EQ(t.out.rfind("differ: 6 of 8 tensors; first /t/inf_max[0] (flat 0): inf vs 3.40282347e+38", 0), 0u)
      << t.out;
}

TEST_F(CompareTest, NaturalOrderPicksBlock2BeforeBlock10) {
  const std::vector<float> v = {1, 2}, w = {1, 3};
  {
    H5Writer a(file("x.h5")), b(file("y.h5"));
    for (const char* n : {"/params/blocks.10.w", "/params/blocks.2.w", "/params/blocks.1.w"}) {
      a.write(n, v.data(), {2});
      b.write(n, w.data(), {2});
    }
    a.commit();
    b.commit();
  }
  const Result t = compare({file("x.h5"), file("y.h5")});
  EXPECT_EQ(t.rc, 1);
  EXPECT_EQ(t.out.rfind("differ: 3 of 3 tensors; first /params/blocks.1.w[1]", 0), 0u) << t.out;
  EXPECT_LT(t.out.find("blocks.2.w"), t.out.find("blocks.10.w")) << t.out;
}

TEST_F(CompareTest, OnlyFloat32DatasetsAreComparedAndTypeMismatchesShow) {
  const std::vector<float> f = {1, 2};
  const std::vector<double> d1 = {0.1, 0.2}, d2 = {0.3, 0.4};
  const std::vector<int64_t> i1 = {1, 2}, i2 = {3, 4};
  {
    H5Writer a(file("x.h5")), b(file("y.h5"));
    a.write("/runs/r/loss", f.data(), {2});
    b.write("/runs/r/loss", f.data(), {2});
    a.write("/runs/r/step_seconds", d1.data(), {2});  // timings differ run to run: not compared
    b.write("/runs/r/step_seconds", d2.data(), {2});
    a.write("/runs/r/step", i1.data(), {2});
    b.write("/runs/r/step", i2.data(), {2});
    a.commit();
    b.commit();
  }
  const Result same = compare({file("x.h5"), file("y.h5")});
  EXPECT_EQ(same.rc, 0) << same.out << same.err;
  EXPECT_EQ(same.out.substr(0, same.out.find('\n')), "bit-identical: 1 tensor, 2 elements");

  {
    H5Writer b(file("z.h5"));
    b.write("/runs/r/loss", d1.data(), {2});  // float64 where x.h5 has float32
    b.commit();
  }
  const Result t = compare({file("x.h5"), file("z.h5"), "--format", "csv"});
  EXPECT_EQ(t.rc, 1) << t.out << t.err;
  auto rows = parse_csv(t.out);
  EXPECT_EQ(rows["/runs/r/loss"]["status"], "type");
  EXPECT_EQ(rows["/runs/r/loss"]["shape_b"], "2 float64");
}

TEST_F(CompareTest, GroupRestrictsTheComparison) {
  std::vector<float> b = kA;
  write_checkpoint(file("x.h5"), kA);
  {
    // Same params, different Adam moment.
    H5Writer w(file("y.h5"));
    w.write("/params/a", kA.data(), {2, 3});
    const std::vector<float> pb = {0.5f, -1.25f, 3.0f, 1e-20f};
    w.write("/params/b", pb.data(), {4});
    const std::vector<float> m = {1, 2, 3, 4, 5, 7};
    w.write("/adam/m/a", m.data(), {2, 3});
    w.commit();
  }
  EXPECT_EQ(compare({file("x.h5"), file("y.h5")}).rc, 1);
  const Result p = compare({file("x.h5"), file("y.h5"), "--group", "/params"});
  EXPECT_EQ(p.rc, 0) << p.out << p.err;
  EXPECT_EQ(p.out.substr(0, p.out.find('\n')), "bit-identical: 2 tensors, 10 elements");
  // A single dataset works as the "group" too.
  EXPECT_EQ(compare({file("x.h5"), file("y.h5"), "--group", "/adam/m/a"}).rc, 1);
  EXPECT_EQ(compare({file("x.h5"), file("y.h5"), "--group", "params/"}).rc, 0);
}

TEST_F(CompareTest, ErrorsExitTwoAndNameTheProblem) {
  write_checkpoint(file("x.h5"), kA);
  const Result missing = compare({file("x.h5"), file("nope.h5")});
  EXPECT_EQ(missing.rc, 2);
  EXPECT_NE(missing.err.find("parity: error: cannot open HDF5 file " + file("nope.h5")), std::string::npos) << missing.err;

  const Result group = compare({file("x.h5"), file("x.h5"), "--group", "/grads"});
  EXPECT_EQ(group.rc, 2);
  EXPECT_NE(group.err.find("parity: error: group /grads not found in HDF5 file " + file("x.h5")), std::string::npos)
      << group.err;

  std::ofstream(file("text.h5")) << "not hdf5\n";
  const Result text = compare({file("x.h5"), file("text.h5")});
  EXPECT_EQ(text.rc, 2);
  EXPECT_NE(text.err.find("not an HDF5 file"), std::string::npos) << text.err;

  {
    H5Writer w(file("ints.h5"));
    const std::vector<int32_t> v = {1};
    w.write("/x", v.data(), {1});
    w.commit();
  }
  const Result none = compare({file("ints.h5"), file("ints.h5")});
  EXPECT_EQ(none.rc, 2);
  EXPECT_NE(none.err.find("nothing to compare: no float32 datasets under /"), std::string::npos) << none.err;
}

// --------------------------------------------------------------- H5Reader additions used by compare/report

TEST_F(CompareTest, ReaderListsGroupsTypesAndAttributes) {
  {
    H5Writer w(file("r.h5"));
    const std::vector<float> f = {1};
    const std::vector<double> d = {1};
    const std::vector<int32_t> i = {1};
    w.write("/g/f", f.data(), {1});
    w.write("/g/d", d.data(), {1});
    w.write("/g/i", i.data(), {1});
    w.attr("/g", "zeta", int64_t{1});
    w.attr("/g", "alpha", std::string("x"));
    w.attr("/g", "mid", 2.5);
    w.attr("/g/f", "on_dataset", int64_t{3});
    w.commit();
  }
  H5Reader r(file("r.h5"));
  EXPECT_TRUE(r.is_group("/"));
  EXPECT_TRUE(r.is_group("/g"));
  EXPECT_TRUE(r.is_group("g/"));
  EXPECT_FALSE(r.is_group("/g/f"));
  EXPECT_FALSE(r.is_group("/missing"));
  EXPECT_FALSE(r.is_group("/missing/deeper"));
  EXPECT_EQ(r.dtype("/g/f"), "float32");
  EXPECT_EQ(r.dtype("/g/d"), "float64");
  EXPECT_EQ(r.dtype("/g/i"), "int32");
  EXPECT_THROW(r.dtype("/g"), parity::Error);
  EXPECT_THROW(r.dtype("/nope"), parity::Error);
  EXPECT_EQ(r.attrs("/g"), (std::vector<std::string>{"alpha", "mid", "zeta"}));
  EXPECT_EQ(r.attrs("/g/f"), (std::vector<std::string>{"on_dataset"}));
  EXPECT_EQ(r.attrs("/"), std::vector<std::string>{});
  EXPECT_THROW(r.attrs("/nope"), parity::Error);
}

}  // namespace
