//===- Partition.cpp - optimal contiguous pipeline partitions -------------===//

#include "gpipe/Transforms/Partition.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>

using namespace mlir::gpipe;

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
}

int PartitionProblem::inFlight(int stage) const {
  if (!oneForwardOneBackward)
    return microBatches;
  return std::min(microBatches, numStages() - stage);
}

double PartitionProblem::stageTime(int stage, int first, int last) const {
  const std::vector<double> &t = time[device[stage]];
  double compute = 0;
  for (int u = first; u <= last; ++u)
    compute += t[u];
  // Each boundary tensor travels once forward (activations) and once
  // backward (their gradients), in M micro-batch messages.
  auto comm = [&](double bytes) {
    return bytes > 0 ? 2 * (microBatches * linkLatency[stage] + bytes / linkBandwidth[stage])
                     : 0.0;
  };
  double in = first > 0 ? cutBytes[first - 1] : 0.0;
  double out = last + 1 < numUnits() ? cutBytes[last] : 0.0;
  return compute + comm(in) + comm(out);
}

double PartitionProblem::stageMemory(int stage, int first, int last) const {
  double state = 0, acts = 0;
  for (int u = first; u <= last; ++u) {
    state += stateBytes[u];
    acts += activationBytes[u];
  }
  double m = std::max(1, microBatches);
  double in = first > 0 ? cutBytes[first - 1] : inputBytes;
  if (recompute)
    // The stage inputs of every micro-batch in flight, and one micro-batch's
    // activations while it is recomputed.
    return state + inFlight(stage) * in / m + acts / m;
  return state + inFlight(stage) * acts / m;
}

void mlir::gpipe::evaluate(const PartitionProblem &p, Partition &part) {
  int k = p.numStages(), n = p.numUnits();
  part.stageTime.assign(k, 0);
  part.stageMemory.assign(k, 0);
  part.bottleneck = 0;
  for (int s = 0; s < k; ++s) {
    int first = part.first[s], last = s + 1 < k ? part.first[s + 1] - 1 : n - 1;
    part.stageTime[s] = p.stageTime(s, first, last);
    part.stageMemory[s] = p.stageMemory(s, first, last);
    part.bottleneck = std::max(part.bottleneck, part.stageTime[s]);
  }
}

std::optional<Partition> mlir::gpipe::partitionOptimal(const PartitionProblem &p,
                                                       std::string &error) {
  int n = p.numUnits(), k = p.numStages();
  if (k < 1 || n < k) {
    error = "cannot split " + std::to_string(n) + " ops into " + std::to_string(k) + " stages";
    return std::nullopt;
  }
  // forcedCount[i]: forced cuts after units < i; stage [a, b) may not
  // contain one, i.e. forcedCount[b - 1] - forcedCount[a] must be 0.
  std::vector<int> forcedCount(n + 1, 0);
  {
    std::vector<char> forced(n, 0);
    for (int c : p.forcedCuts)
      if (c >= 0 && c < n - 1)
        forced[c] = 1;
    for (int u = 0; u < n; ++u)
      forcedCount[u + 1] = forcedCount[u] + forced[u];
  }
  // Prefix sums make each candidate stage O(1).
  int numDevices = (int)p.time.size();
  std::vector<std::vector<double>> prefix(numDevices, std::vector<double>(n + 1, 0));
  for (int d = 0; d < numDevices; ++d)
    for (int u = 0; u < n; ++u)
      prefix[d][u + 1] = prefix[d][u] + p.time[d][u];
  std::vector<double> statePrefix(n + 1, 0), actPrefix(n + 1, 0);
  for (int u = 0; u < n; ++u) {
    statePrefix[u + 1] = statePrefix[u] + p.stateBytes[u];
    actPrefix[u + 1] = actPrefix[u] + p.activationBytes[u];
  }
  auto comm = [&](int s, double bytes) {
    return bytes > 0 ? 2 * (p.microBatches * p.linkLatency[s] + bytes / p.linkBandwidth[s]) : 0.0;
  };
  double m = std::max(1, p.microBatches);
  // best[s][b]: the smallest bottleneck of stages 0..s covering units
  // [0, b); from[s][b]: where stage s starts in it.
  std::vector<std::vector<double>> best(k, std::vector<double>(n + 1, kInf));
  std::vector<std::vector<int>> from(k, std::vector<int>(n + 1, -1));
  for (int s = 0; s < k; ++s) {
    const std::vector<double> &pre = prefix[p.device[s]];
    int minEnd = s + 1, maxEnd = n - (k - 1 - s);
    for (int b = minEnd; b <= maxEnd; ++b) {
      double outComm = b < n ? comm(s, p.cutBytes[b - 1]) : 0.0;
      double &bestHere = best[s][b];
      // Stage s covers [a, b); scan a downward, stopping once the compute
      // alone exceeds the best found, the state alone exceeds the memory
      // limit, or a forced cut would fall inside the stage.
      for (int a = s == 0 ? 0 : b - 1; a >= s; --a) {
        if (forcedCount[b - 1] - forcedCount[a] > 0)
          break;
        double compute = pre[b] - pre[a];
        if (compute >= bestHere)
          break;
        double state = statePrefix[b] - statePrefix[a];
        if (state > p.memoryLimit[s])
          break;
        double prev = s == 0 ? 0.0 : best[s - 1][a];
        if (prev >= bestHere)
          continue;
        double inBytes = a > 0 ? p.cutBytes[a - 1] : p.inputBytes;
        double acts = actPrefix[b] - actPrefix[a];
        double memory = p.recompute ? state + p.inFlight(s) * inBytes / m + acts / m
                                    : state + p.inFlight(s) * acts / m;
        if (memory > p.memoryLimit[s])
          continue;
        double t = compute + outComm + (a > 0 ? comm(s, p.cutBytes[a - 1]) : 0.0);
        double cost = std::max(prev, t);
        if (cost < bestHere) {
          bestHere = cost;
          from[s][b] = a;
        }
      }
    }
  }
  if (best[k - 1][n] == kInf) {
    error = "no partition into " + std::to_string(k) +
            " stages meets the memory limits and split points";
    return std::nullopt;
  }
  Partition part;
  part.first.assign(k, 0);
  for (int s = k - 1, b = n; s >= 0; --s) {
    part.first[s] = from[s][b];
    b = from[s][b];
  }
  evaluate(p, part);
  return part;
}

std::optional<Partition> mlir::gpipe::partitionBruteForce(const PartitionProblem &p) {
  int n = p.numUnits(), k = p.numStages();
  std::optional<Partition> bestPart;
  std::vector<int> first(k, 0);
  std::function<void(int, int)> place = [&](int s, int start) {
    if (s == k) {
      Partition part;
      part.first = first;
      for (int c : p.forcedCuts) {
        bool cut = false;
        for (int t = 1; t < k; ++t)
          cut |= first[t] == c + 1;
        if (c >= 0 && c < n - 1 && !cut)
          return;
      }
      evaluate(p, part);
      for (int t = 0; t < k; ++t)
        if (part.stageMemory[t] > p.memoryLimit[t])
          return;
      if (!bestPart || part.bottleneck < bestPart->bottleneck)
        bestPart = part;
      return;
    }
    for (int a = start; a <= n - (k - s); ++a) {
      first[s] = a;
      place(s + 1, a + 1);
    }
  };
  first[0] = 0;
  place(1, 1);
  return bestPart;
}

namespace {
/// The contiguous partition minimizing the largest block sum of `w` (exact,
/// by the same dynamic program without communication or memory).
std::vector<int> minMaxBlocks(const std::vector<double> &w, int k) {
  int n = (int)w.size();
  std::vector<double> pre(n + 1, 0);
  for (int i = 0; i < n; ++i)
    pre[i + 1] = pre[i] + w[i];
  std::vector<std::vector<double>> best(k, std::vector<double>(n + 1, kInf));
  std::vector<std::vector<int>> from(k, std::vector<int>(n + 1, -1));
  for (int b = 1; b <= n - k + 1; ++b) {
    best[0][b] = pre[b];
    from[0][b] = 0;
  }
  for (int s = 1; s < k; ++s)
    for (int b = s + 1; b <= n - (k - 1 - s); ++b)
      for (int a = b - 1; a >= s; --a) {
        double cost = std::max(best[s - 1][a], pre[b] - pre[a]);
        if (cost < best[s][b]) {
          best[s][b] = cost;
          from[s][b] = a;
        }
        if (pre[b] - pre[a] >= best[s][b])
          break;
      }
  std::vector<int> first(k, 0);
  for (int s = k - 1, b = n; s >= 0; --s) {
    first[s] = from[s][b];
    b = from[s][b];
  }
  return first;
}
} // namespace

Partition mlir::gpipe::partitionByParameters(const PartitionProblem &p) {
  Partition part;
  part.first = minMaxBlocks(p.stateBytes, p.numStages());
  evaluate(p, part);
  return part;
}

Partition mlir::gpipe::partitionUniform(const PartitionProblem &p) {
  int n = p.numUnits(), k = p.numStages();
  Partition part;
  part.first.resize(k);
  for (int s = 0; s < k; ++s)
    part.first[s] = (int)((long long)n * s / k);
  evaluate(p, part);
  return part;
}

Partition mlir::gpipe::partitionTorchgpipe(const PartitionProblem &p) {
  // Bárány and Grinberg's block partition, as torchgpipe's balance_by_time
  // applies it: times normalized to [0, 1], equal-length blocks to start,
  // then single elements move toward the smallest block until the largest
  // block exceeds the smallest by at most 1.
  int n = p.numUnits(), k = p.numStages();
  const std::vector<double> &t = p.time[p.device[0]];
  double lo = *std::min_element(t.begin(), t.end()), hi = *std::max_element(t.begin(), t.end());
  std::vector<double> w(n);
  for (int i = 0; i < n; ++i)
    w[i] = hi > lo ? (t[i] - lo) / (hi - lo) : 0.0;
  std::vector<int> end(k);
  for (int s = 0; s + 1 < k; ++s)
    end[s] = n / k * (s + 1);
  end[k - 1] = n;
  auto size = [&](int s) {
    double sum = 0;
    for (int i = s ? end[s - 1] : 0; i < end[s]; ++i)
      sum += w[i];
    return sum;
  };
  auto extreme = [&](bool largest) {
    int pick = 0;
    for (int s = 1; s < k; ++s)
      if (largest ? size(s) > size(pick) : size(s) < size(pick))
        pick = s;
    return pick;
  };
  for (int guard = 0; guard < 4 * n * k + 16; ++guard) {
    int pMax = extreme(true);
    bool done = false;
    while (true) {
      int q = extreme(false);
      if (size(pMax) <= size(q) + 1) {
        done = true;
        break;
      }
      int h;
      if (pMax < q) {
        h = q - 1;
        --end[h];
      } else {
        h = q + 1;
        ++end[q];
      }
      if (h == pMax)
        break;
    }
    if (done)
      break;
  }
  Partition part;
  part.first.assign(k, 0);
  for (int s = 1; s < k; ++s)
    part.first[s] = end[s - 1];
  evaluate(p, part);
  return part;
}
