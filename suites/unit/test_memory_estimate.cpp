// The memory lower bound (reference/memory_estimate.hpp): its figures by hand for tiny, how the layout
// divides it, and the refusal naming the figures when it exceeds what the machine has.
#include <gtest/gtest.h>

#include <string>

#include "kernels/error.hpp"
#include "reference/memory_estimate.hpp"

using parity::Error;
using parity::TrainConfig;

namespace {
TrainConfig tiny() {
  TrainConfig c;  // tiny: L4 C128 H4 T64 V256
  c.micro_batch_size = 4;
  c.target = parity::Target::host;
  return c;
}
}  // namespace

TEST(MemoryEstimate, TinyByHand) {
  // P = 256·128 + 64·128 + 4·(12·128² + 13·128) + 2·128 = 834,304 parameters.
  const parity::MemoryBound mb = parity::memory_lower_bound(tiny());
  EXPECT_DOUBLE_EQ(mb.state_bytes, 4.0 * 834304 * 4);  // weights, gradients, m, v
  // b·L·(15·T·C + H·T²) + b·T·V floats = 4·4·(122,880 + 16,384) + 4·64·256
  EXPECT_DOUBLE_EQ(mb.activation_bytes, 4.0 * (4 * 4 * 139264 + 4 * 64 * 256));
}

TEST(MemoryEstimate, LayoutsShareIt) {
  TrainConfig c = tiny();
  const parity::MemoryBound one = parity::memory_lower_bound(c);
  c.tp = 2;
  c.pp = 2;
  const parity::MemoryBound four = parity::memory_lower_bound(c);
  EXPECT_DOUBLE_EQ(four.state_bytes, one.state_bytes / 4);
  c = tiny();
  c.dp = 4;
  c.zero = 1;  // m and v sharded over dp: 2 + 2/4 of the 4 fp32 copies
  EXPECT_DOUBLE_EQ(parity::memory_lower_bound(c).state_bytes, one.state_bytes * 2.5 / 4);
}

TEST(MemoryEstimate, RefusesWithTheFigures) {
  const TrainConfig c = tiny();
  EXPECT_NO_THROW(parity::check_memory(c, 1e9));
  try {
    parity::check_memory(c, 1e6);
    FAIL() << "1 MB was enough for tiny";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("needs at least 0.021 GiB per rank"), std::string::npos) << what;
    EXPECT_NE(what.find("more than this machine's 0.000931 GiB"), std::string::npos) << what;
  }
  TrainConfig huge = tiny();  // 3.3e12 parameters: refused on any machine, before anything is allocated
  huge.model.C = 262144;
  EXPECT_THROW(parity::check_memory(huge), Error);
  huge.target = parity::Target::device;  // device memory is not the host's: not judged here
  EXPECT_NO_THROW(parity::check_memory(huge, 1e6));
}
