//===- ToolSupport.h - what gpipe's command-line tools share ----*- C++ -*-===//

#ifndef GPIPE_SUPPORT_TOOLSUPPORT_H
#define GPIPE_SUPPORT_TOOLSUPPORT_H

#include "gpipe/Import/ONNXImporter.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/ArrayRef.h"

#include <optional>
#include <string>
#include <vector>

namespace mlir::gpipe {

/// Prints every diagnostic as one line, `TOOL: error: <where>: <what>`, where
/// `<where>` is the ONNX node (`node 'NAME'`) or the file, and counts errors.
class OneLineDiagnostics {
public:
  OneLineDiagnostics(MLIRContext *context, llvm::StringRef tool);
  unsigned errors() const { return numErrors; }

private:
  std::string tool;
  unsigned numErrors = 0;
  ScopedDiagnosticHandler handler;
};

/// Fills `options` from `--batch-size` (0: unset) and `--dim NAME=SIZE`
/// flags; returns an error message for a malformed flag.
std::optional<std::string> parseShapeFlags(int64_t batchSize, bool batchSizeGiven,
                                           llvm::ArrayRef<std::string> dims,
                                           ImportOptions &options);

/// True for paths the ONNX importer reads (`.onnx`, `.onnxtxt`).
bool isONNXPath(llvm::StringRef path);

/// The flags gpipe-run and gpipe-compile share for building the training
/// functions and, with `stages` > 0, partitioning and scheduling them.
struct TrainingFlags {
  std::string function = "main", evalFunction = "eval", stepFunction = "train_step";
  std::string loss = "cross-entropy", optimizer = "sgd";
  double lr = 0.01, momentum = 0.9, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weightDecay = 0, gradClip = 0;
  int64_t classAxis = 1;
  std::vector<std::string> frozen;
  int64_t stages = 0, microBatches = 1;
  std::string schedule = "gpipe", recompute = "full", batchNorm = "micro-batch";
  std::string balance = "time";
  /// Measured per-op times for the partition (empty: the estimates).
  std::string costProfile;
  /// gpipe-split-update: each stage updates its own parameters.
  bool splitUpdate = true;
  double memoryBudget = 0;
  std::vector<std::string> devices;
};

/// The pass pipeline (textual, for parsePassPipeline) that builds
/// @<step> (and with stages: @<step>_loss and @<step>_update, partitions
/// the loss function and writes its gpipe.pipeline).
std::string trainingPassPipeline(const TrainingFlags &flags);

} // namespace mlir::gpipe

#endif // GPIPE_SUPPORT_TOOLSUPPORT_H
