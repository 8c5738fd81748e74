//===- TransportTest.cpp - the in-process stage-to-stage transport --------===//

#include "gpipe/runtime/gp_pipeline.h"

#include <gtest/gtest.h>

#include <chrono>
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

} // namespace
