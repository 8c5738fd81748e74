//===- PipelineModel.h - a function as a costed chain of units --*- C++ -*-===//
//
// What the partition and schedule passes share: the model function's costed
// ops as a chain, their costs on each stage's device, and the bytes crossing
// every cut, as a PartitionProblem.
//
//===----------------------------------------------------------------------===//

#ifndef GPIPE_TRANSFORMS_PIPELINEMODEL_H
#define GPIPE_TRANSFORMS_PIPELINEMODEL_H

#include "gpipe/Transforms/CostModel.h"
#include "gpipe/Transforms/Partition.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"

#include <memory>
#include <optional>

namespace mlir::gpipe {

struct ChainSetup {
  std::unique_ptr<CostModel> model;
  std::vector<Operation *> units;
  llvm::DenseMap<Operation *, int> index;
  std::vector<DeviceSpec> kinds;
  std::vector<int> stageDevice;
  PartitionProblem problem;
};

struct SetupOptions {
  int64_t stages = 1, microBatches = 1;
  std::vector<std::string> devices;
  std::string schedule = "gpipe", optimizer = "adam", profile;
  bool recompute = true;
  double memoryLimit = 0;
};

/// Fills `setup` for `func`; returns a one-line error on failure.
std::optional<std::string> buildChain(func::FuncOp func, const SetupOptions &options,
                                      ChainSetup &setup);

/// Reads the partition gpipe-partition recorded on `func` (its
/// gpipe.partition dictionary and the ops' gpipe.stage) into `options`,
/// `setup` and `partition`; returns a one-line error on failure.
std::optional<std::string> readPartition(func::FuncOp func, SetupOptions &options,
                                         ChainSetup &setup, Partition &partition);

} // namespace mlir::gpipe

#endif // GPIPE_TRANSFORMS_PIPELINEMODEL_H
