//===- ScheduleTest.cpp - pipeline schedules, verifier and timelines ------===//

#include "gpipe/Transforms/Schedule.h"

#include <gtest/gtest.h>

using namespace mlir::gpipe;

namespace {
std::vector<StageCosts> uniform(int k, double f, double b) {
  std::vector<StageCosts> costs(k);
  for (StageCosts &c : costs) {
    c.forward = f;
    c.backward = b;
    c.stateBytes = 100;
    c.activationBytes = 10;
    c.inputBytes = 1;
  }
  return costs;
}
} // namespace

TEST(Schedule, EveryScheduleVerifies) {
  for (int k = 1; k <= 6; ++k)
    for (int m = 1; m <= 8; ++m)
      for (ScheduleKind kind : {ScheduleKind::GPipe, ScheduleKind::OneFOneB})
        for (RecomputePolicy policy :
             {RecomputePolicy::None, RecomputePolicy::Full, RecomputePolicy::ExceptLast}) {
          Schedule s = buildSchedule(k, m, kind, policy);
          auto error = verifySchedule(s);
          EXPECT_FALSE(error) << "K=" << k << " M=" << m << ": " << *error;
          // Every micro-batch runs forward and backward once on every stage.
          for (const auto &program : s.programs) {
            int forwards = 0, backwards = 0;
            for (const Action &a : program) {
              forwards += a.kind == ActionKind::Forward;
              backwards += a.kind == ActionKind::Backward;
            }
            EXPECT_EQ(forwards, m);
            EXPECT_EQ(backwards, m);
          }
        }
}

TEST(Schedule, BubbleMatchesGPipeFormula) {
  // Equal stages, free communication: the bubble is (K - 1) / (M + K - 1).
  for (int k = 1; k <= 5; ++k)
    for (int m = 1; m <= 8; ++m)
      for (ScheduleKind kind : {ScheduleKind::GPipe, ScheduleKind::OneFOneB}) {
        Schedule s = buildSchedule(k, m, kind, RecomputePolicy::None);
        Timeline t = simulate(s, uniform(k, 1.0, 2.0));
        EXPECT_NEAR(t.bubbleFraction, double(k - 1) / (m + k - 1), 1e-12)
            << "K=" << k << " M=" << m;
        EXPECT_NEAR(t.makespan, (m + k - 1) * 3.0, 1e-12);
      }
}

TEST(Schedule, OneFOneBAndRecomputeSaveMemory) {
  int k = 4, m = 8;
  auto peak = [&](ScheduleKind kind, RecomputePolicy policy) {
    return simulate(buildSchedule(k, m, kind, policy), uniform(k, 1, 2)).peakMemory[0];
  };
  double gpipe = peak(ScheduleKind::GPipe, RecomputePolicy::None);
  double oneF = peak(ScheduleKind::OneFOneB, RecomputePolicy::None);
  double gpipeRe = peak(ScheduleKind::GPipe, RecomputePolicy::Full);
  // Stage 0 keeps all M micro-batches under GPipe, K under 1F1B.
  EXPECT_DOUBLE_EQ(gpipe, 100 + (m + 1) * 10);
  EXPECT_DOUBLE_EQ(oneF, 100 + (k + 1) * 10);
  EXPECT_LT(gpipeRe, gpipe);
  EXPECT_LE(peak(ScheduleKind::GPipe, RecomputePolicy::ExceptLast), gpipe);
}

TEST(Schedule, VerifierRejectsMismatchedOrder) {
  Schedule s = buildSchedule(2, 3, ScheduleKind::GPipe, RecomputePolicy::None);
  std::vector<Action> &p = s.programs[1];
  auto first = std::find_if(p.begin(), p.end(),
                            [](const Action &a) { return a.kind == ActionKind::RecvActivation; });
  auto second = std::find_if(first + 1, p.end(),
                             [](const Action &a) { return a.kind == ActionKind::RecvActivation; });
  std::swap(first->microBatch, second->microBatch);
  auto error = verifySchedule(s);
  ASSERT_TRUE(error);
  EXPECT_EQ(*error, "stage 0 sends activations to stage 1 in another order than it receives them");
}

TEST(Schedule, VerifierFindsDeadlocks) {
  Schedule s;
  s.stages = 2;
  s.microBatches = 1;
  s.programs = {{{ActionKind::RecvGradient, 0, 1}, {ActionKind::SendActivation, 0, 1}},
                {{ActionKind::RecvActivation, 0, 0}, {ActionKind::SendGradient, 0, 0}}};
  auto error = verifySchedule(s);
  ASSERT_TRUE(error);
  EXPECT_EQ(*error, "the schedule deadlocks: stage 0 waits at recv gradient of micro-batch 0 from "
                    "stage 1; stage 1 waits at recv activation of micro-batch 0 from stage 0");
}

TEST(Schedule, SvgDrawsEveryAction) {
  Schedule s = buildSchedule(2, 2, ScheduleKind::OneFOneB, RecomputePolicy::Full);
  std::vector<StageCosts> costs = uniform(2, 1e-3, 2e-3);
  costs[0].sendActivation = costs[1].sendGradient = 1e-4;
  Timeline t = simulate(s, costs);
  std::string svg = renderSvg(s, t, "test");
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  size_t rects = 0;
  for (size_t pos = svg.find("<rect"); pos != std::string::npos; pos = svg.find("<rect", pos + 1))
    ++rects;
  // Background, legend (5) and one per timed action.
  EXPECT_EQ(rects, 1 + 5 + t.actions.size());
  EXPECT_NE(svg.find("recompute"), std::string::npos);
}
