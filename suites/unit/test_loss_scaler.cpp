// Dynamic loss scaling: growth after a clean window, back-off after `hysteresis` overflows, the minimum is an
// error, and a disabled scaler (fp32, bf16) stays at 1 and treats an overflow as an error.
#include <gtest/gtest.h>

#include "kernels/error.hpp"
#include "reference/loss_scaler.hpp"

using parity::LossScaleConfig;
using parity::LossScaler;

TEST(LossScaler, DefaultsFollowTheDesign) {
  const LossScaleConfig c;
  EXPECT_EQ(c.init, 65536.0);
  EXPECT_EQ(c.growth, 2.0);
  EXPECT_EQ(c.interval, 1000);
  EXPECT_EQ(c.backoff, 0.5);
  EXPECT_EQ(c.hysteresis, 2);
  EXPECT_EQ(c.min, 1.0);
}

TEST(LossScaler, GrowsAfterACleanWindow) {
  LossScaleConfig c;
  c.init = 8;
  c.interval = 3;
  LossScaler s(c, true);
  EXPECT_FALSE(s.update(false, 1));
  EXPECT_FALSE(s.update(false, 2));
  EXPECT_EQ(s.scale(), 8.0f);
  EXPECT_FALSE(s.update(false, 3));
  EXPECT_EQ(s.scale(), 16.0f);  // third clean step in a row
  EXPECT_EQ(s.growth_tracker(), 0);
}

TEST(LossScaler, OverflowResetsTheCleanWindow) {
  LossScaleConfig c;
  c.init = 8;
  c.interval = 3;
  c.hysteresis = 5;
  LossScaler s(c, true);
  s.update(false, 1);
  s.update(false, 2);
  EXPECT_TRUE(s.update(true, 3));  // skipped; hysteresis not yet exhausted: scale unchanged
  EXPECT_EQ(s.scale(), 8.0f);
  s.update(false, 4);
  s.update(false, 5);
  EXPECT_EQ(s.scale(), 8.0f);  // only two clean steps since the overflow
  s.update(false, 6);
  EXPECT_EQ(s.scale(), 16.0f);
}

TEST(LossScaler, HysteresisBacksOffAfterTheNthOverflow) {
  LossScaleConfig c;
  c.init = 1024;
  c.hysteresis = 2;
  LossScaler s(c, true);
  EXPECT_TRUE(s.update(true, 1));
  EXPECT_EQ(s.scale(), 1024.0f);  // first overflow: tolerated (hysteresis 2)
  EXPECT_TRUE(s.update(true, 2));
  EXPECT_EQ(s.scale(), 512.0f);   // second: back off by 0.5
  EXPECT_TRUE(s.update(true, 3));
  EXPECT_EQ(s.scale(), 512.0f);   // the tracker was re-armed
  EXPECT_TRUE(s.update(true, 4));
  EXPECT_EQ(s.scale(), 256.0f);
}

TEST(LossScaler, OverflowAtTheMinimumIsAnError) {
  LossScaleConfig c;
  c.init = 2;
  c.min = 1;
  c.hysteresis = 1;
  LossScaler s(c, true);
  EXPECT_TRUE(s.update(true, 1));
  EXPECT_EQ(s.scale(), 1.0f);
  try {
    s.update(true, 2);
    FAIL() << "no error at the minimum scale";
  } catch (const parity::Error& e) {
    EXPECT_NE(std::string(e.what()).find("minimum"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("step 2"), std::string::npos) << e.what();
  }
}

TEST(LossScaler, DisabledStaysAtOneAndRefusesOverflow) {
  LossScaler s(LossScaleConfig{}, false);
  EXPECT_EQ(s.scale(), 1.0f);
  for (int i = 0; i < 3000; ++i) s.update(false, i + 1);
  EXPECT_EQ(s.scale(), 1.0f);
  EXPECT_THROW(s.update(true, 3001), parity::Error);
}

TEST(LossScaler, RestoreContinuesTheSameTrajectory) {
  LossScaleConfig c;
  c.init = 64;
  c.interval = 4;
  LossScaler a(c, true), b(c, true);
  for (int i = 1; i <= 6; ++i) a.update(i == 2, i);
  b.restore(a.scale_value(), a.growth_tracker(), a.hysteresis_tracker());
  for (int i = 7; i <= 20; ++i) {
    const bool o = i % 7 == 0;
    EXPECT_EQ(a.update(o, i), b.update(o, i));
    EXPECT_EQ(a.scale(), b.scale());
  }
}
