// Unit tests for the RAII HDF5 layer (reference/h5io.hpp).
#include <dirent.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/error.hpp"
#include "reference/h5io.hpp"

namespace {

using parity::H5Reader;
using parity::H5Writer;

// A fresh directory per test, removed (with its files) afterwards.
class H5IoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "parity_h5io_XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    ASSERT_NE(::mkdtemp(buf.data()), nullptr);
    dir_ = buf.data();
  }
  void TearDown() override {
    for (const auto& f : entries()) std::remove((dir_ + "/" + f).c_str());
    ::rmdir(dir_.c_str());
  }
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    if (DIR* d = ::opendir(dir_.c_str())) {
      while (dirent* e = ::readdir(d)) {
        const std::string n = e->d_name;
        if (n != "." && n != "..") out.push_back(n);
      }
      ::closedir(d);
    }
    return out;
  }
  std::string file(const std::string& name) const { return dir_ + "/" + name; }
  static bool exists(const std::string& p) { return ::access(p.c_str(), F_OK) == 0; }

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

TEST_F(H5IoTest, RoundTripsEveryTypeBitForBit) {
  const std::string path = file("types.h5");
  const std::vector<float> f = {1.0f, -0.0f, std::numeric_limits<float>::denorm_min(),
                                std::numeric_limits<float>::infinity(), 3.14159274f, 1e-30f};
  const std::vector<double> d = {0.1, -2.5e300, std::numeric_limits<double>::quiet_NaN(), 5e-324};
  const std::vector<int32_t> i32 = {0, -1, 2147483647, -2147483647 - 1, 42, 7};
  const std::vector<int64_t> i64 = {0, -1, 9223372036854775807LL, -9223372036854775807LL - 1};
  {
    H5Writer w(path);
    w.write("/f", f.data(), {2, 3});
    w.write("/d", d.data(), {4});
    w.write("/i32", i32.data(), {3, 2});
    w.write("/i64", i64.data(), {2, 2});
    const double scalar = 2.75;
    w.write("/scalar", &scalar, {});
    w.write("/empty", static_cast<const float*>(nullptr), {0});
    w.commit();
  }
  H5Reader r(path);
  EXPECT_EQ(r.dims("/f"), (std::vector<hsize_t>{2, 3}));
  EXPECT_EQ(r.dims("/i32"), (std::vector<hsize_t>{3, 2}));
  EXPECT_EQ(r.dims("/scalar"), std::vector<hsize_t>{});
  EXPECT_EQ(r.dims("/empty"), std::vector<hsize_t>{0});
  const auto rf = r.read_float("/f");
  ASSERT_EQ(rf.size(), f.size());
  for (size_t i = 0; i < f.size(); ++i) {
    EXPECT_EQ(std::memcmp(&rf[i], &f[i], sizeof(float)), 0) << i;
  }
  const auto rd = r.read_double("d");  // a name without the leading '/' is taken from the root
  ASSERT_EQ(rd.size(), d.size());
  for (size_t i = 0; i < d.size(); ++i) {
    EXPECT_EQ(std::memcmp(&rd[i], &d[i], sizeof(double)), 0) << i;
  }
  EXPECT_EQ(r.read_int32("/i32"), i32);
  EXPECT_EQ(r.read_int64("/i64"), i64);
  EXPECT_EQ(r.read_double("/scalar"), std::vector<double>{2.75});
  EXPECT_TRUE(r.read_float("/empty").empty());
  // Lossless widening is allowed ...
  const auto widened = r.read_double("/f");
  EXPECT_EQ(widened[4], double(3.14159274f));
  EXPECT_EQ(r.read_int64("/i32")[2], 2147483647);
  // ... narrowing and cross-class reads are not.
  EXPECT_NE(error_of([&] { r.read_float("/d"); }).find("/d"), std::string::npos);
  EXPECT_NE(error_of([&] { r.read_int32("/i64"); }).find("as int32"), std::string::npos);
  EXPECT_NE(error_of([&] { r.read_float("/i32"); }).find("int32"), std::string::npos);
}

TEST_F(H5IoTest, AttributesAndNestedGroups) {
  const std::string path = file("attrs.h5");
  const std::vector<float> loss = {4.5f, 4.25f, 4.0f};
  {
    H5Writer w(path);
    w.write("/runs/dp2-tp2/loss", loss.data(), {3});
    w.write("/params/blocks.0.ln1.weight", loss.data(), {3});
    w.attr("/", "schema", "parity-results/1");
    w.attr("/runs/dp2-tp2", "precision", std::string("bf16"));
    w.attr("/runs/dp2-tp2", "dp", int64_t(2));
    w.attr("/runs/dp2-tp2", "tp", 2);                 // int
    w.attr("/runs/dp2-tp2", "steps", size_t(1000));   // size_t
    w.attr("/runs/dp2-tp2", "max_rel_diff", 1.5e-7);
    w.attr("/runs/dp2-tp2", "empty", "");
    w.attr("/runs/dp2-tp2/loss", "unit", "nats");       // on a dataset
    w.attr("/meta/deep/group", "note", "created by attr");  // group created on demand
    w.attr("/runs/dp2-tp2", "dp", int64_t(4));          // replaces
    w.attr("/runs/dp2-tp2", "utf8", "\xce\xbb = 3e-4 \xe2\x9c\x93");
    w.commit();
  }
  H5Reader r(path);
  EXPECT_TRUE(r.has("/runs"));
  EXPECT_TRUE(r.has("/runs/dp2-tp2/loss"));
  EXPECT_TRUE(r.has("/params/blocks.0.ln1.weight"));
  EXPECT_FALSE(r.has("/runs/dp2-tp2/grad_norm"));
  EXPECT_FALSE(r.has("/nope/deeper/still"));
  EXPECT_FALSE(r.has("/runs/dp2-tp2/loss/below-a-dataset"));
  EXPECT_EQ(r.list("/"), (std::vector<std::string>{"meta", "params", "runs"}));
  EXPECT_EQ(r.list("/runs/dp2-tp2"), std::vector<std::string>{"loss"});
  EXPECT_EQ(r.read_float("/runs/dp2-tp2/loss"), loss);

  EXPECT_EQ(r.attr_string("/", "schema"), "parity-results/1");
  EXPECT_EQ(r.attr_string("/runs/dp2-tp2", "precision"), "bf16");
  EXPECT_EQ(r.attr_int("/runs/dp2-tp2", "dp"), 4);
  EXPECT_EQ(r.attr_int("/runs/dp2-tp2", "tp"), 2);
  EXPECT_EQ(r.attr_int("/runs/dp2-tp2", "steps"), 1000);
  EXPECT_EQ(r.attr_double("/runs/dp2-tp2", "max_rel_diff"), 1.5e-7);
  EXPECT_EQ(r.attr_double("/runs/dp2-tp2", "dp"), 4.0);  // integers read as double
  EXPECT_EQ(r.attr_string("/runs/dp2-tp2", "empty"), "");
  EXPECT_EQ(r.attr_string("/runs/dp2-tp2/loss", "unit"), "nats");
  EXPECT_EQ(r.attr_string("/meta/deep/group", "note"), "created by attr");
  EXPECT_EQ(r.attr_string("/runs/dp2-tp2", "utf8"), "\xce\xbb = 3e-4 \xe2\x9c\x93");
  EXPECT_TRUE(r.has_attr("/runs/dp2-tp2", "precision"));
  EXPECT_FALSE(r.has_attr("/runs/dp2-tp2", "zero"));
  EXPECT_FALSE(r.has_attr("/runs/missing", "zero"));

  const std::string missing = error_of([&] { r.attr_int("/runs/dp2-tp2", "zero"); });
  EXPECT_NE(missing.find("zero"), std::string::npos) << missing;
  EXPECT_NE(missing.find(path), std::string::npos) << missing;
  EXPECT_NE(error_of([&] { r.attr_int("/runs/dp2-tp2", "precision"); }).find("not an integer"), std::string::npos);
  EXPECT_NE(error_of([&] { r.attr_string("/runs/dp2-tp2", "dp"); }).find("not a string"), std::string::npos);
  EXPECT_NE(error_of([&] { r.list("/runs/dp2-tp2/loss"); }).find("not a group"), std::string::npos);
  EXPECT_NE(error_of([&] { r.list("/nothing"); }).find("/nothing"), std::string::npos);
}

TEST_F(H5IoTest, CommitPublishesAtomically) {
  const std::string path = file("result.h5");
  {
    H5Writer w(path);
    const int32_t x[2] = {1, 2};
    w.write("/x", x, {2});
    EXPECT_FALSE(exists(path)) << "the file must not appear before commit()";
    EXPECT_EQ(entries().size(), 1u);  // only the temporary
    EXPECT_NE(entries()[0].find("result.h5.tmp."), std::string::npos);
    w.commit();
    EXPECT_TRUE(exists(path));
    EXPECT_EQ(entries(), std::vector<std::string>{"result.h5"});
    EXPECT_THROW(w.write("/y", x, {2}), parity::Error);
    EXPECT_THROW(w.commit(), parity::Error);
  }
  EXPECT_EQ(H5Reader(path).read_int32("/x"), (std::vector<int32_t>{1, 2}));
}

TEST_F(H5IoTest, NoCommitLeavesNothing) {
  const std::string path = file("abandoned.h5");
  {
    H5Writer w(path);
    const double x = 1;
    w.write("/x", &x, {1});
  }
  EXPECT_FALSE(exists(path));
  EXPECT_TRUE(entries().empty());
  // Also when an exception unwinds through the writer.
  try {
    H5Writer w(path);
    const double x = 1;
    w.write("/x", &x, {1});
    w.write("/x", &x, {1});  // duplicate name: throws
    FAIL() << "writing a name twice must throw";
  } catch (const parity::Error& e) {
    EXPECT_NE(std::string(e.what()).find("/x"), std::string::npos);
  }
  EXPECT_TRUE(entries().empty());
}

TEST_F(H5IoTest, CommitReplacesAnExistingFile) {
  const std::string path = file("r.h5");
  for (int v : {1, 2}) {
    H5Writer w(path);
    w.attr("/", "version", v);
    w.commit();
  }
  EXPECT_EQ(H5Reader(path).attr_int("/", "version"), 2);
  EXPECT_EQ(entries(), std::vector<std::string>{"r.h5"});
}

TEST_F(H5IoTest, ReadableByH5dump) {
  if (std::system("command -v h5dump >/dev/null 2>&1") != 0) GTEST_SKIP() << "h5dump is not installed";
  const std::string path = file("dump.h5");
  {
    H5Writer w(path);
    const float wte[6] = {1, 2, 3, 4, 5, 6};
    w.write("/params/wte", wte, {3, 2});
    w.attr("/runs/base", "precision", "fp32");
    w.attr("/runs/base", "seed", int64_t(1234));
    w.commit();
  }
  const std::string out = file("dump.txt");
  ASSERT_EQ(std::system(("h5dump -H " + path + " > " + out + " 2>&1").c_str()), 0);
  std::ifstream in(out);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string header = ss.str();
  EXPECT_NE(header.find("DATASET \"wte\""), std::string::npos) << header;
  EXPECT_NE(header.find("H5T_IEEE_F32LE"), std::string::npos) << header;
  EXPECT_NE(header.find("( 3, 2 )"), std::string::npos) << header;
  // String attributes print as readable text.
  ASSERT_EQ(std::system(("h5dump -a /runs/base/precision " + path + " > " + out + " 2>&1").c_str()), 0);
  std::ifstream in2(out);
  std::stringstream ss2;
  ss2 << in2.rdbuf();
  EXPECT_NE(ss2.str().find("\"fp32\""), std::string::npos) << ss2.str();
}

TEST_F(H5IoTest, ErrorsNameTheFileAndObject) {
  const std::string path = file("e.h5");
  {
    H5Writer w(path);
    const float x = 1;
    w.write("/a/b", &x, {1});
    // A dataset cannot hold children.
    const std::string e = error_of([&] { w.write("/a/b/c", &x, {1}); });
    EXPECT_NE(e.find("/a/b/c"), std::string::npos) << e;
    w.commit();
  }
  H5Reader r(path);
  const std::string missing = error_of([&] { r.read_float("/a/zzz"); });
  EXPECT_NE(missing.find("/a/zzz"), std::string::npos) << missing;
  EXPECT_NE(missing.find(path), std::string::npos) << missing;
  EXPECT_NE(error_of([&] { r.dims("/nope"); }).find("/nope"), std::string::npos);
  EXPECT_NE(error_of([&] { r.read_float("/a"); }).find("not a dataset"), std::string::npos);

  // Garbage, an empty file, a truncated HDF5 file and a missing file are all "cannot open HDF5 file".
  const std::string garbage = file("garbage.h5");
  std::ofstream(garbage) << "this is not an HDF5 file, not even close\n";
  std::string e = error_of([&] { H5Reader bad(garbage); });
  EXPECT_NE(e.find("cannot open HDF5 file " + garbage), std::string::npos) << e;
  const std::string empty = file("empty.h5");
  std::ofstream(empty).close();
  e = error_of([&] { H5Reader bad(empty); });
  EXPECT_NE(e.find("cannot open HDF5 file " + empty), std::string::npos) << e;
  const std::string truncated = file("truncated.h5");
  {
    std::ifstream src(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(src)), std::istreambuf_iterator<char>());
    std::ofstream(truncated, std::ios::binary) << bytes.substr(0, 600);
  }
  e = error_of([&] { H5Reader bad(truncated); });
  EXPECT_NE(e.find("cannot open HDF5 file " + truncated), std::string::npos) << e;
  const std::string nofile = file("does-not-exist.h5");
  e = error_of([&] { H5Reader bad(nofile); });
  EXPECT_NE(e.find("cannot open HDF5 file " + nofile), std::string::npos) << e;
  e = error_of([&] { H5Reader bad(dir_); });
  EXPECT_NE(e.find("cannot open HDF5 file " + dir_), std::string::npos) << e;

  // A writer into a missing directory says why.
  e = error_of([&] { H5Writer w(dir_ + "/no/such/dir/x.h5"); });
  EXPECT_NE(e.find("cannot create HDF5 file " + dir_ + "/no/such/dir/x.h5"), std::string::npos) << e;
}

}  // namespace
