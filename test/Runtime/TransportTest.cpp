//===- TransportTest.cpp - the in-process stage-to-stage transport --------===//

#include "gpipe/runtime/gp_pipeline.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace {

gp::PipelineMessage message(int microBatch) {
  gp::PipelineMessage msg;
  msg.microBatch = microBatch;
  int64_t dims[1] = {3};
  msg.values.push_back(gp::Tensor::allocate(GP_F32, 1, dims));
  return msg;
}

TEST(QueueTransport, DeliversEachDirectionInOrder) {
  auto transport = gp::makeQueueTransport(2);
  std::string error;
  ASSERT_TRUE(transport->send(0, 1, false, message(0), error));
  ASSERT_TRUE(transport->send(0, 1, false, message(1), error));
  ASSERT_TRUE(transport->send(1, 0, true, message(7), error));
  gp::PipelineMessage got;
  ASSERT_TRUE(transport->recv(0, 1, false, got, error));
  EXPECT_EQ(got.microBatch, 0);
  ASSERT_TRUE(transport->recv(1, 0, true, got, error));
  EXPECT_EQ(got.microBatch, 7);
  ASSERT_TRUE(transport->recv(0, 1, false, got, error));
  EXPECT_EQ(got.microBatch, 1);
  EXPECT_EQ(got.values.size(), 1u);
}

TEST(QueueTransport, ReceiveTimesOutNamingBothStages) {
  auto transport = gp::makeQueueTransport(3);
  transport->setRecvTimeout(0.05);
  gp::PipelineMessage got;
  std::string error;
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(transport->recv(1, 2, true, got, error));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(40));
  EXPECT_EQ(error, "stage 2 received no gradient from stage 1 in 0.05 s; stopping every stage");
}

TEST(QueueTransport, StopWakesAWaitingReceiverWithoutAnError) {
  auto transport = gp::makeQueueTransport(2);
  gp::PipelineMessage got;
  std::string error = "unchanged";
  bool received = true;
  std::thread receiver([&] { received = transport->recv(0, 1, false, got, error); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  transport->stop();
  receiver.join();
  EXPECT_FALSE(received);
  EXPECT_EQ(error, "unchanged");
}

/// A transport whose receives never return, whatever stop() says: a stage
/// stuck in a call the stop cannot reach (a device synchronization).
class StuckTransport : public gp::Transport {
public:
  bool send(int, int, bool, const gp::PipelineMessage &, std::string &) override { return true; }
  bool recv(int, int, bool, gp::PipelineMessage &, std::string &) override {
    for (;;)
      std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  void stop() override {}
};

/// Two stages, one micro-batch: stage 0 runs `stage0` (its forward, and
/// perhaps a send); stage 1 waits for stage 0's activation.
gp::PipelinePlan twoStages(std::vector<gp::Action> stage0) {
  gp::PipelinePlan plan;
  plan.stages = 2;
  plan.microBatches = 1;
  plan.stageInfo.resize(2);
  plan.stageInfo[0].sources = {{-1, 0}};
  plan.stageInfo[0].returns = {{}};
  plan.stageInfo[1].sources = {{0, 0}};
  for (gp::PipelineStage &info : plan.stageInfo)
    info.keeping.present = true;
  plan.programs = {std::move(stage0), {{gp::ActionKind::RecvActivation, 0, 0}}};
  return plan;
}

/// Runs `plan` over a transport whose receives never return.
void runStuck(const gp::PipelinePlan &plan, const gp::StageRunner &runner) {
  StuckTransport transport;
  std::vector<std::vector<gp::Tensor>> inputs = {{message(0).values[0]}}, grads = {{}};
  gp::PipelineRun out;
  std::string error;
  gp::runPipeline(plan, runner, inputs, grads, out, error, &transport, {0, 1});
}

// Stage 0 fails; stage 1 waits for its activation in a receive that never
// ends. The run neither hangs nor loses the error: after the grace period
// the process ends with stage 0's message.
TEST(PipelineDeathTest, AStageThatCannotStopEndsTheProcessWithTheFirstError) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  gp::PipelinePlan plan = twoStages({{gp::ActionKind::Forward, 0, -1}});
  plan.stopGraceSeconds = 0.2;
  gp::StageRunner failing = [](int stage, bool, bool, int, const std::vector<gp::Tensor> &,
                               std::vector<gp::Tensor> &, std::string &error) {
    error = "stage " + std::to_string(stage) + " failed on purpose";
    return false;
  };
  EXPECT_EXIT(runStuck(plan, failing), ::testing::ExitedWithCode(1),
              "error: stage 0 failed on purpose \\(a stage did not stop within 0.2 s of the "
              "failure; exiting\\)");
}

// No stage fails, but stage 1 waits for ever in a call no timeout reaches:
// with stallSeconds the process ends, naming where each stage is.
TEST(PipelineDeathTest, ARunWithoutProgressEndsTheProcessNamingEachStage) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  gp::PipelinePlan plan =
      twoStages({{gp::ActionKind::Forward, 0, -1}, {gp::ActionKind::SendActivation, 0, 1}});
  plan.stallSeconds = 0.3;
  gp::StageRunner identity = [](int, bool, bool, int, const std::vector<gp::Tensor> &args,
                                std::vector<gp::Tensor> &results, std::string &) {
    results = args;
    return true;
  };
  EXPECT_EXIT(runStuck(plan, identity), ::testing::ExitedWithCode(1),
              "error: no stage made progress in 0.3 s \\(stage 0 is done; stage 1 in its "
              "activation receive of micro-batch 0\\); exiting");
}

/// A number per thread, new for every thread ever made (a std::thread::id
/// may be reused once its thread has ended).
int threadSerial() {
  static std::atomic<int> next{0};
  thread_local int mine = ++next;
  return mine;
}

// The stages run on threads kept for the process: a stage's calls run on
// the same thread from run to run (a new thread would start a new OpenMP
// team every step), each stage on its own, none on the caller's.
TEST(PipelineThreads, AStageRunsOnTheSameThreadFromRunToRun) {
  gp::PipelinePlan plan;
  plan.stages = 2;
  plan.microBatches = 1;
  plan.stageInfo.resize(2);
  for (gp::PipelineStage &info : plan.stageInfo) {
    info.sources = {{-1, 0}};
    info.returns = {{}};
    info.keeping.present = true;
  }
  plan.programs = {{{gp::ActionKind::Forward, 0, -1}}, {{gp::ActionKind::Forward, 0, -1}}};
  std::mutex mutex;
  std::map<int, std::set<int>> seen;
  gp::StageRunner runner = [&](int stage, bool, bool, int, const std::vector<gp::Tensor> &args,
                               std::vector<gp::Tensor> &results, std::string &) {
    std::lock_guard<std::mutex> lock(mutex);
    seen[stage].insert(threadSerial());
    results = args;
    return true;
  };
  for (int run = 0; run < 3; ++run) {
    std::vector<std::vector<gp::Tensor>> inputs = {{message(0).values[0]}}, grads = {{}};
    gp::PipelineRun out;
    std::string error;
    ASSERT_TRUE(gp::runPipeline(plan, runner, inputs, grads, out, error)) << error;
  }
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].size(), 1u);
  EXPECT_EQ(seen[1].size(), 1u);
  EXPECT_NE(*seen[0].begin(), *seen[1].begin());
  EXPECT_EQ(seen[0].count(threadSerial()), 0u);
  EXPECT_EQ(seen[1].count(threadSerial()), 0u);
}

// Tasks posted to a stage's thread run there in order; waiting covers all.
TEST(PipelineThreads, PostedTasksRunInOrderAndAreWaitedFor) {
  std::vector<int> order;
  std::set<int> threads;
  for (int i = 0; i < 20; ++i)
    gp::postToStageThread(7, [&, i] {
      order.push_back(i);
      threads.insert(threadSerial());
    });
  gp::waitForStageThreads({7});
  ASSERT_EQ(order.size(), 20u);
  for (int i = 0; i < 20; ++i)
    EXPECT_EQ(order[i], i);
  EXPECT_EQ(threads.size(), 1u);
}

} // namespace
