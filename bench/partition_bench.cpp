//===- partition_bench.cpp - time the exact partitioner on long chains ----===//
//
// gpipe-partition-bench [units] [stages]
//
// Builds a random chain (default 10,000 units, 8 stages on H100-like
// figures: times, parameter state, activations, cut sizes), and reports the
// median time of partitionOptimal over 5 runs, with the bottleneck it finds
// against the rules of DeepSpeed and torchgpipe on the same costs.
//
//===----------------------------------------------------------------------===//

#include "gpipe/Transforms/Partition.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>

using namespace mlir::gpipe;

int main(int argc, char **argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 10000;
  int k = argc > 2 ? std::atoi(argv[2]) : 8;
  if (n < 1 || k < 1 || k > n) {
    std::fprintf(stderr, "usage: gpipe-partition-bench [units >= stages] [stages >= 1]\n");
    return 1;
  }
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> time(-11.0, 1.0), bytes(14.0, 1.5);
  PartitionProblem p;
  p.time.assign(1, std::vector<double>(n));
  for (int u = 0; u < n; ++u) {
    p.time[0][u] = time(rng);
    p.stateBytes.push_back(rng() % 3 ? 0.0 : 4 * bytes(rng));
    p.activationBytes.push_back(bytes(rng));
  }
  for (int u = 0; u + 1 < n; ++u)
    p.cutBytes.push_back(bytes(rng));
  p.inputBytes = bytes(rng);
  p.microBatches = 8;
  for (int s = 0; s < k; ++s) {
    p.device.push_back(0);
    p.memoryLimit.push_back(80e9);
    p.linkBandwidth.push_back(450e9);
    p.linkLatency.push_back(3e-6);
  }
  std::vector<double> runs;
  std::optional<Partition> best;
  for (int r = 0; r < 5; ++r) {
    std::string error;
    auto start = std::chrono::steady_clock::now();
    best = partitionOptimal(p, error);
    runs.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    if (!best) {
      std::fprintf(stderr, "gpipe-partition-bench: %s\n", error.c_str());
      return 1;
    }
  }
  std::sort(runs.begin(), runs.end());
  double total = 0, largest = 0;
  for (double t : p.time[0]) {
    total += t;
    largest = std::max(largest, t);
  }
  double bound = std::max(total / k, largest);
  std::printf("chain of %d units, %d stages: partitionOptimal %.3f s (median of 5)\n", n, k,
              runs[2]);
  std::printf("%-26s %14s %10s\n", "rule", "bottleneck ms", "vs bound");
  auto row = [&](const char *name, double b) {
    std::printf("%-26s %14.4f %10.3f\n", name, b * 1e3, b / bound);
  };
  row("gpipe (optimal)", best->bottleneck);
  row("DeepSpeed parameters", partitionByParameters(p).bottleneck);
  row("DeepSpeed uniform", partitionUniform(p).bottleneck);
  row("torchgpipe block partition", partitionTorchgpipe(p).bottleneck);
  return 0;
}
