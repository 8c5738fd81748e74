//===- TrainingCommandLine.h - the training flags the tools share -*- C++ -*-===//
//
// The command-line flags gpipe-run and gpipe-compile both take for building
// the training step and for partitioning and scheduling it, declared once.
// A tool constructs one (static) object before parsing its command line.
//
//===----------------------------------------------------------------------===//

#ifndef GPIPE_SUPPORT_TRAININGCOMMANDLINE_H
#define GPIPE_SUPPORT_TRAININGCOMMANDLINE_H

#include "gpipe/Support/ToolSupport.h"

#include "llvm/Support/CommandLine.h"

namespace mlir::gpipe {

struct TrainingCommandLine {
  TrainingCommandLine(llvm::cl::OptionCategory &train, llvm::cl::OptionCategory &pipeline);

  /// The flags' values (stages and the function names are the tool's).
  TrainingFlags flags() const;
  /// Whether any pipeline flag was given.
  bool anyPipelineFlag() const;

  llvm::cl::opt<std::string> loss, optimizer;
  llvm::cl::opt<double> lr, momentum, beta1, beta2, eps, weightDecay, gradClip;
  llvm::cl::opt<int64_t> classAxis;
  llvm::cl::list<std::string> frozen;

  llvm::cl::opt<int64_t> microBatches;
  llvm::cl::alias microBatchesAlias;
  llvm::cl::opt<std::string> schedule, recompute;
  llvm::cl::opt<double> memoryBudget;
  llvm::cl::opt<std::string> batchNorm;
  llvm::cl::list<std::string> devices;
  llvm::cl::opt<std::string> balance;
  llvm::cl::opt<std::string> costProfile;
  llvm::cl::opt<bool> splitUpdate;
};

} // namespace mlir::gpipe

#endif // GPIPE_SUPPORT_TRAININGCOMMANDLINE_H
