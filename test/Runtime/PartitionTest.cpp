//===- PartitionTest.cpp - the partitioner against brute force ------------===//
//
// Hundreds of random small cost chains: the dynamic program must find the
// same bottleneck as trying every contiguous partition, with memory limits,
// split points, heterogeneous devices and both schedules.
//
//===----------------------------------------------------------------------===//

#include "gpipe/Transforms/Partition.h"

#include <gtest/gtest.h>

#include <random>

using namespace mlir::gpipe;

namespace {
PartitionProblem randomProblem(std::mt19937 &rng, int n, int k) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  PartitionProblem p;
  int devices = 1 + rng() % 2;
  p.time.assign(devices, std::vector<double>(n));
  for (int d = 0; d < devices; ++d)
    for (int t = 0; t < n; ++t)
      p.time[d][t] = (rng() % 5 == 0) ? 0.0 : u(rng) * (d + 1);
  for (int t = 0; t < n; ++t) {
    p.stateBytes.push_back(u(rng) * 100);
    p.activationBytes.push_back(u(rng) * 100);
  }
  for (int t = 0; t + 1 < n; ++t)
    p.cutBytes.push_back(rng() % 3 == 0 ? 0.0 : u(rng) * 50);
  p.inputBytes = u(rng) * 50;
  p.microBatches = 1 + rng() % 4;
  p.oneForwardOneBackward = rng() % 2;
  p.recompute = rng() % 2;
  double total = 0;
  for (double b : p.stateBytes)
    total += b;
  for (int s = 0; s < k; ++s) {
    p.device.push_back(rng() % devices);
    // Sometimes generous, sometimes binding, sometimes impossible.
    double scale = 0.3 + 1.2 * u(rng);
    p.memoryLimit.push_back(total / k * scale + 100);
    p.linkBandwidth.push_back(50 + 100 * u(rng));
    p.linkLatency.push_back(0.01 * u(rng));
  }
  if (n > 2 && rng() % 4 == 0)
    p.forcedCuts.push_back(rng() % (n - 1));
  return p;
}
} // namespace

TEST(Partition, OptimalMatchesBruteForce) {
  std::mt19937 rng(2026);
  int feasible = 0, infeasible = 0;
  for (int trial = 0; trial < 600; ++trial) {
    int n = 1 + rng() % 9, k = 1 + rng() % std::min(n, 4);
    PartitionProblem p = randomProblem(rng, n, k);
    std::string error;
    auto fast = partitionOptimal(p, error);
    auto slow = partitionBruteForce(p);
    ASSERT_EQ(fast.has_value(), slow.has_value()) << "trial " << trial << ": " << error;
    if (!fast) {
      ++infeasible;
      continue;
    }
    ++feasible;
    EXPECT_NEAR(fast->bottleneck, slow->bottleneck, 1e-9 * (1 + slow->bottleneck))
        << "trial " << trial << " n=" << n << " k=" << k;
    // The partition it returns is the one it claims.
    Partition check;
    check.first = fast->first;
    evaluate(p, check);
    EXPECT_DOUBLE_EQ(check.bottleneck, fast->bottleneck);
    for (int s = 0; s < k; ++s)
      EXPECT_LE(check.stageMemory[s], p.memoryLimit[s]);
  }
  // The generator must exercise both outcomes.
  EXPECT_GT(feasible, 200);
  EXPECT_GT(infeasible, 20);
}

TEST(Partition, RulesOfOtherSystems) {
  PartitionProblem p;
  p.time = {{1, 1, 1, 1, 8, 1, 1, 1}};
  p.stateBytes = {8, 1, 1, 1, 1, 1, 1, 1};
  p.activationBytes.assign(8, 0);
  p.cutBytes.assign(7, 0);
  p.device = {0, 0};
  p.memoryLimit = {1e9, 1e9};
  p.linkBandwidth = {1, 1};
  p.linkLatency = {0, 0};
  std::string error;
  auto best = partitionOptimal(p, error);
  ASSERT_TRUE(best);
  // The 8 cannot share a stage with more than three 1s: [1 1 1 1] [8 1 1 1].
  EXPECT_EQ(best->bottleneck, 11.0);
  Partition uniform = partitionUniform(p);
  EXPECT_EQ(uniform.first, (std::vector<int>{0, 4}));
  Partition params = partitionByParameters(p);
  EXPECT_EQ(params.first[1], 1); // the 8-byte first unit alone
  Partition torch = partitionTorchgpipe(p);
  EXPECT_GE(torch.bottleneck, best->bottleneck);
  EXPECT_GE(uniform.bottleneck, best->bottleneck);
  EXPECT_GE(params.bottleneck, best->bottleneck);
}

TEST(Partition, ReportsImpossibleRequests) {
  PartitionProblem p;
  p.time = {{1, 1}};
  p.stateBytes = {10, 10};
  p.activationBytes = {0, 0};
  p.cutBytes = {0};
  p.device = {0, 0, 0};
  p.memoryLimit = {100, 100, 100};
  p.linkBandwidth = {1, 1, 1};
  p.linkLatency = {0, 0, 0};
  std::string error;
  EXPECT_FALSE(partitionOptimal(p, error));
  EXPECT_EQ(error, "cannot split 2 ops into 3 stages");
  p.device = {0, 0};
  p.memoryLimit = {5, 5};
  p.linkBandwidth = {1, 1};
  p.linkLatency = {0, 0};
  EXPECT_FALSE(partitionOptimal(p, error));
  EXPECT_NE(error.find("memory limits"), std::string::npos);
}
