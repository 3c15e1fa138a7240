// reference/shard_layout.hpp: stage_layers (how L layers split over pp pipeline stages: evenly, or as an
// explicit --pp-split) and what the stages of that split hold (LocalLayout at tp = 1): every parameter on
// exactly one stage, except the tied wte, which the first and the last stage both hold.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "kernels/error.hpp"
#include "reference/params.hpp"
#include "reference/shard_layout.hpp"

namespace parity {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// stage_layers(L, pp, split) throws parity::Error whose message contains every word (case-insensitive).
::testing::AssertionResult refused(long L, int pp, const std::vector<long>& split,
                                   std::initializer_list<const char*> words) {
  try {
    stage_layers(L, pp, split);
  } catch (const Error& e) {
    const std::string what = lower(e.what());
    for (const char* w : words)
      if (what.find(lower(w)) == std::string::npos)
        return ::testing::AssertionFailure() << "the message '" << e.what() << "' lacks '" << w << "'";
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "stage_layers(" << L << ", " << pp << ", ...) accepted the split";
}

TEST(StageLayers, EvenSplitGivesEveryStageLOverPpLayers) {
  for (long L : {1L, 2L, 4L, 12L, 24L})
    for (int pp = 1; pp <= L; ++pp) {
      if (L % pp) continue;
      const std::vector<long> s = stage_layers(L, pp, {});
      ASSERT_EQ(static_cast<int>(s.size()), pp) << "L " << L << " pp " << pp;
      for (long n : s) EXPECT_EQ(n, L / pp) << "L " << L << " pp " << pp;
    }
}

TEST(StageLayers, ExplicitSplitIsReturnedAsGiven) {
  EXPECT_EQ(stage_layers(4, 2, {1, 3}), (std::vector<long>{1, 3}));
  EXPECT_EQ(stage_layers(4, 2, {3, 1}), (std::vector<long>{3, 1}));
  EXPECT_EQ(stage_layers(12, 3, {2, 5, 5}), (std::vector<long>{2, 5, 5}));
  EXPECT_EQ(stage_layers(5, 1, {5}), (std::vector<long>{5}));
  // An explicit split also serves an L that pp does not divide.
  EXPECT_EQ(stage_layers(5, 2, {2, 3}), (std::vector<long>{2, 3}));
}

TEST(StageLayers, RefusesAnUnevenSplitWithoutAnExplicitOne) {
  EXPECT_TRUE(refused(5, 2, {}, {"5 layers", "--pp 2", "--pp-split"}));
  EXPECT_TRUE(refused(4, 3, {}, {"4 layers", "--pp 3"}));
  EXPECT_TRUE(refused(2, 4, {}, {"2 layers", "--pp 4"}));  // more stages than layers
}

TEST(StageLayers, RefusesAnExplicitSplitWithTheWrongNumberOfStages) {
  EXPECT_TRUE(refused(4, 2, {1, 1, 2}, {"--pp-split", "3 stages", "--pp is 2"}));
  EXPECT_TRUE(refused(4, 4, {2, 2}, {"--pp-split", "2 stages", "--pp is 4"}));
}

TEST(StageLayers, RefusesAnExplicitStageWithoutLayers) {
  EXPECT_TRUE(refused(4, 2, {0, 4}, {"--pp-split", "at least one layer"}));
  EXPECT_TRUE(refused(4, 3, {5, -1, 0}, {"--pp-split", "at least one layer"}));
}

TEST(StageLayers, RefusesAnExplicitSplitThatDoesNotAddUpToL) {
  EXPECT_TRUE(refused(4, 2, {1, 2}, {"--pp-split", "add up", "4 layers"}));
  EXPECT_TRUE(refused(4, 2, {3, 3}, {"--pp-split", "add up", "4 layers"}));
}

// The stages of a split (at tp = 1) hold every tensor once, wte on the first and the last stage, wpe on the
// first, lnf on the last, and block l's tensors on the stage whose layer range contains l.
TEST(StageLayers, StagesOfASplitHoldEveryParameterOnceExceptTheTiedWte) {
  ModelConfig m;  // tiny: L4 C128 H4 T64 V256
  const ParamLayout full(m);
  for (const std::vector<long>& explicit_split :
       {std::vector<long>{}, std::vector<long>{1, 3}, std::vector<long>{2, 1, 1}, std::vector<long>{1, 1, 1, 1}}) {
    const int pp = explicit_split.empty() ? 2 : static_cast<int>(explicit_split.size());
    const std::vector<long> layers = stage_layers(m.L, pp, explicit_split);
    std::map<std::string, std::vector<int>> holders;
    long lo = 0;
    for (int s = 0; s < pp; ++s) {
      StageSpec spec;
      spec.pp = pp;
      spec.stage = s;
      spec.layer_lo = lo;
      spec.layer_hi = lo + layers[s];
      lo = spec.layer_hi;
      const LocalLayout lay(full, spec);
      EXPECT_EQ(static_cast<long>(lay.blocks.size()), layers[s]);
      for (const LocalTensor& t : lay.tensors()) holders[t.global->name].push_back(s);
    }
    EXPECT_EQ(lo, m.L);
    ASSERT_EQ(holders.size(), full.tensors().size());
    for (const TensorInfo& t : full.tensors()) {
      const std::vector<int>& h = holders[t.name];
      if (t.name == "wte") {
        EXPECT_EQ(h, (pp == 1 ? std::vector<int>{0} : std::vector<int>{0, pp - 1}));
      } else if (t.name == "wpe") {
        EXPECT_EQ(h, std::vector<int>{0});
      } else if (t.name.rfind("lnf.", 0) == 0) {
        EXPECT_EQ(h, std::vector<int>{pp - 1});
      } else {
        ASSERT_EQ(h.size(), 1u) << t.name;
        const long l = std::stol(t.name.substr(std::string("blocks.").size()));
        const long first = std::accumulate(layers.begin(), layers.begin() + h[0], 0L);
        EXPECT_TRUE(first <= l && l < first + layers[h[0]]) << t.name << " on stage " << h[0];
      }
    }
  }
}

}  // namespace
}  // namespace parity
