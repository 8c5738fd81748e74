//===- Training.h - gpipe-run's training loop -------------------*- C++ -*-===//

#ifndef GPIPE_TOOLS_GPIPE_RUN_TRAINING_H
#define GPIPE_TOOLS_GPIPE_RUN_TRAINING_H

#include "gpipe/Execution/Interpreter.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringMap.h"

#include <functional>
#include <optional>
#include <string>

namespace gpiperun {

struct TrainingOptions {
  std::string stepFunction = "train_step";
  std::string evalFunction = "eval";
  std::string labelName = "labels";
  /// Input name -> .npy file holding the whole data set (rows on dimension 0).
  llvm::StringMap<std::string> inputs, evalInputs;
  std::string labelsFile, evalLabelsFile;
  unsigned steps = 0;
  unsigned logEvery = 1;
  std::optional<unsigned> shuffleSeed;
  std::string saveFile;
  /// After training: compare the last loss and the parameters
  /// (`<dir>/<initializer>.npy`) with references.
  std::string expectLossFile, expectParamsDir;
  double maxRelError = 1e-5;
  /// If set: write the last loss there as loss.npy.
  std::string outputDir;
  /// Pipelined training (stages > 0): each step runs the stages of
  /// `<step>_loss` (gpipe-outline-stages) over `microBatches` micro-batches
  /// of the step's batch size under the schedule of its `gpipe.pipeline` op,
  /// one thread per stage, then `<step>_update` once on the summed gradients.
  int stages = 0;
  int microBatches = 1;
  /// A fresh parameter store for a stage (each stage holds its own).
  std::function<mlir::gpipe::ParamStore()> makeStageStore;
};

/// Runs `options.steps` training steps over mini-batches of the data set,
/// printing the loss, then evaluates and saves as asked. Returns the exit
/// code; errors are printed as one line.
int runTraining(mlir::ModuleOp module, const TrainingOptions &options,
                mlir::gpipe::ParamStore &params);

} // namespace gpiperun

#endif // GPIPE_TOOLS_GPIPE_RUN_TRAINING_H
