// Pipeline schedules as data (reference/schedule.hpp): every stage's op list of GPipe and 1F1B satisfies
// the checker's rules, the checker catches each kind of broken list, and the stages' lists together run
// without deadlock when each forward waits for the previous stage's forward and each backward for the next
// stage's backward of the same micro-batch.
#include <gtest/gtest.h>

#include <vector>

#include "reference/schedule.hpp"

namespace parity {
namespace {

// Simulates the pipeline: repeatedly runs, on every stage, the next op whose input has arrived. Returns the
// number of ops run (all of them when the lists cannot deadlock) and the rounds it took.
struct Sim {
  long ran = 0, rounds = 0;
};
Sim simulate(ScheduleKind k, int pp, long m) {
  std::vector<Schedule> s;
  for (int st = 0; st < pp; ++st) s.push_back(make_schedule(k, pp, st, m));
  std::vector<size_t> next(pp, 0);
  std::vector<std::vector<int>> fdone(pp, std::vector<int>(m, 0)), bdone(pp, std::vector<int>(m, 0));
  Sim out;
  for (bool progress = true; progress; ++out.rounds) {
    progress = false;
    std::vector<std::pair<int, PipeOp>> now;
    for (int st = 0; st < pp; ++st) {
      if (next[st] == s[st].ops.size()) continue;
      const PipeOp op = s[st].ops[next[st]];
      const bool ready = op.forward ? (st == 0 || fdone[st - 1][op.mb]) : (st == pp - 1 || bdone[st + 1][op.mb]);
      if (ready) now.push_back({st, op});
    }
    for (const auto& [st, op] : now) {  // one round: every ready stage runs one op
      (op.forward ? fdone : bdone)[st][op.mb] = 1;
      ++next[st];
      ++out.ran;
      progress = true;
    }
  }
  return out;
}

TEST(Schedule, EveryStageOfGpipeAnd1f1bPassesTheChecker) {
  for (ScheduleKind k : {ScheduleKind::gpipe, ScheduleKind::one_f_one_b})
    for (int pp : {1, 2, 3, 4, 8})
      for (long m : {1L, 2L, 3L, 4L, 8L, 16L})
        for (int st = 0; st < pp; ++st) {
          const Schedule s = make_schedule(k, pp, st, m);
          EXPECT_EQ(check_schedule(s, m), "") << to_string(k) << " pp " << pp << " stage " << st << " m " << m;
          EXPECT_EQ(static_cast<long>(s.ops.size()), 2 * m);
        }
}

TEST(Schedule, SlotCounts) {
  EXPECT_EQ(make_schedule(ScheduleKind::gpipe, 4, 0, 8).slots, 8);
  EXPECT_EQ(make_schedule(ScheduleKind::one_f_one_b, 4, 0, 8).slots, 4);  // pp - stage in flight
  EXPECT_EQ(make_schedule(ScheduleKind::one_f_one_b, 4, 3, 8).slots, 1);
  EXPECT_EQ(make_schedule(ScheduleKind::one_f_one_b, 4, 0, 2).slots, 2);  // never more than m
  // One stage is one schedule like the others: F0 B0 F1 B1 ... in one slot, whatever the kind.
  const Schedule one = make_schedule(ScheduleKind::gpipe, 1, 0, 3);
  EXPECT_EQ(one.slots, 1);
  for (long i = 0; i < 6; ++i) {
    EXPECT_EQ(one.ops[i].forward, i % 2 == 0);
    EXPECT_EQ(one.ops[i].mb, i / 2);
  }
}

TEST(Schedule, NoDeadlockAcrossStages) {
  for (ScheduleKind k : {ScheduleKind::gpipe, ScheduleKind::one_f_one_b})
    for (int pp : {2, 3, 4, 8})
      for (long m : {1L, 2L, 4L, 8L}) {
        const Sim sim = simulate(k, pp, m);
        EXPECT_EQ(sim.ran, 2 * m * pp) << to_string(k) << " pp " << pp << " m " << m;
      }
}

TEST(Schedule, OneF1BFinishesInTheTheoreticalTime) {
  // With unit-time F and B, both schedules take 2(m + p - 1) rounds: the bubble (p-1)/(m+p-1).
  for (int pp : {2, 4})
    for (long m : {4L, 8L}) {
      const Sim sim = simulate(ScheduleKind::one_f_one_b, pp, m);
      EXPECT_EQ(sim.rounds - 1, 2 * (m + pp - 1)) << "pp " << pp << " m " << m;  // the last round runs nothing
    }
}

TEST(Schedule, CheckerCatchesBrokenLists) {
  auto check = [](std::vector<PipeOp> ops, long slots, long m) { return check_schedule(Schedule{ops, slots}, m); };
  EXPECT_NE(check({{false, 0}, {true, 0}}, 1, 1).find("before its forward"), std::string::npos);
  EXPECT_NE(check({{true, 0}, {true, 1}, {false, 1}, {false, 0}}, 2, 2).find("out of micro-batch order"), std::string::npos);
  EXPECT_NE(check({{true, 0}, {true, 1}, {false, 0}, {false, 1}}, 1, 2).find("in flight"), std::string::npos);
  EXPECT_NE(check({{true, 0}, {false, 0}}, 1, 2).find("never finishes"), std::string::npos);
  EXPECT_NE(check({{true, 0}, {true, 0}}, 2, 1).find("twice"), std::string::npos);
  EXPECT_NE(check({{true, 2}}, 1, 2).find("out of range"), std::string::npos);
  // Slot reuse while live: micro-batches 0 and 2 share slot 0 of 2.
  EXPECT_NE(check({{true, 0}, {true, 2}, {false, 0}, {true, 1}, {false, 1}, {false, 2}}, 2, 3).find("slot"),
            std::string::npos);
}

}  // namespace
}  // namespace parity
