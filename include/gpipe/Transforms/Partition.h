//===- Partition.h - optimal contiguous pipeline partitions -----*- C++ -*-===//
//
// The partitioning problem, independent of MLIR: a chain of units (ops in
// topological order) with per-device times, memory and the bytes crossing
// each cut, split into K contiguous stages on K devices. partitionOptimal
// minimizes the slowest stage's time subject to every stage's memory fitting
// its device, exactly (dynamic programming over cut positions).
//
//===----------------------------------------------------------------------===//

#ifndef GPIPE_TRANSFORMS_PARTITION_H
#define GPIPE_TRANSFORMS_PARTITION_H

#include <optional>
#include <string>
#include <vector>

namespace mlir::gpipe {

struct PartitionProblem {
  /// time[d][t]: forward + backward (+ recompute) seconds of unit t on
  /// device kind d, for the whole mini-batch.
  std::vector<std::vector<double>> time;
  /// Bytes of parameters, gradients and optimizer state of each unit.
  std::vector<double> stateBytes;
  /// Bytes of the activations each unit produces for the whole mini-batch.
  std::vector<double> activationBytes;
  /// cutBytes[t]: bytes crossing the cut after unit t (size n - 1), and the
  /// bytes the first stage receives (the model's inputs).
  std::vector<double> cutBytes;
  double inputBytes = 0;

  /// Per stage: its device kind, memory limit, link bandwidth and latency.
  std::vector<int> device;
  std::vector<double> memoryLimit, linkBandwidth, linkLatency;

  int microBatches = 1;
  /// 1F1B keeps min(M, K - s) micro-batches in flight on stage s; GPipe's
  /// fill-drain keeps all M.
  bool oneForwardOneBackward = false;
  /// Keep only stage inputs and recompute activations in the backward pass.
  bool recompute = true;
  /// Units after which a stage must end (manual split points).
  std::vector<int> forcedCuts;

  int numUnits() const { return (int)stateBytes.size(); }
  int numStages() const { return (int)device.size(); }
  /// Micro-batches stage s holds activations for.
  int inFlight(int stage) const;
  /// Seconds stage s takes on units [first, last] per mini-batch, with the
  /// send and receive of its boundary tensors (forward and backward).
  double stageTime(int stage, int first, int last) const;
  /// Peak bytes of stage s on units [first, last].
  double stageMemory(int stage, int first, int last) const;
};

struct Partition {
  /// first[s]: the first unit of stage s (first[0] = 0).
  std::vector<int> first;
  double bottleneck = 0;
  std::vector<double> stageTime, stageMemory;
};

/// The partition minimizing the slowest stage; nullopt when no partition
/// meets the memory limits (or the split points), with the reason in `error`.
std::optional<Partition> partitionOptimal(const PartitionProblem &problem, std::string &error);

/// Every contiguous partition, tried one by one (for tests).
std::optional<Partition> partitionBruteForce(const PartitionProblem &problem);

/// The rules other systems use, evaluated with the same cost model:
/// DeepSpeed's `parameters` (the partition minimizing the largest stage's
/// parameter bytes) and `uniform` (equal numbers of units), and torchgpipe's
/// block partition of the time sequence.
Partition partitionByParameters(const PartitionProblem &problem);
Partition partitionUniform(const PartitionProblem &problem);
Partition partitionTorchgpipe(const PartitionProblem &problem);

/// Fills times and memory of a partition given only its stage starts.
void evaluate(const PartitionProblem &problem, Partition &partition);

} // namespace mlir::gpipe

#endif // GPIPE_TRANSFORMS_PARTITION_H
