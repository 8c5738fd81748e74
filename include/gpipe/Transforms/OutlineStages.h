//===- OutlineStages.h - stage functions of a partitioned function -*- C++ -*-===//
//
// What gpipe-outline-stages and gpipe-pipeline share: for a function whose
// ops carry `gpipe.stage`, builds per stage a forward function and a
// backward function. Which activations the forward keeps for the backward
// is a choice: none (the backward recomputes the stage from its inputs),
// all that the backward reads (nothing is recomputed), or any subset (the
// backward recomputes only what the kept values do not give it).
//
//===----------------------------------------------------------------------===//

#ifndef GPIPE_TRANSFORMS_OUTLINESTAGES_H
#define GPIPE_TRANSFORMS_OUTLINESTAGES_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/SetVector.h"

#include <memory>

namespace mlir::gpipe {

class StageOutliner {
public:
  /// Reads the stages of `func` (partitioned into `numStages`); emits an
  /// error naming the pass `pass` and fails when an op has no valid stage
  /// or reads a value of a later stage.
  static FailureOr<std::unique_ptr<StageOutliner>> analyze(ModuleOp module, func::FuncOp func,
                                                           int64_t numStages, StringRef pass);

  int64_t numStages() const { return plans.size(); }
  /// The ops of stage `s`, in program order.
  ArrayRef<Operation *> stageOps(int64_t s) const { return plans[s].ops; }

  /// The values of stage `s` its backward reads besides the stage inputs
  /// and parameters: what a forward that recomputes nothing must keep per
  /// micro-batch. Results of ops without operands (parameter reads,
  /// constants) are left out: recomputing them is free.
  FailureOr<SmallVector<Value>> activationsNeeded(int64_t s);

  /// Adds the forward `fwdName` and backward `bwdName` of stage `s` to the
  /// module, the forward keeping `keep` (values of stage s; result attribute
  /// `gpipe.kept`, after the outputs) and the backward taking them (argument
  /// attribute `gpipe.kept`, after the inputs) and recomputing only what
  /// they do not cover. With `recomputedOps` the number of forward ops the
  /// backward recomputes is returned (ops without operands not counted).
  LogicalResult build(int64_t s, ArrayRef<Value> keep, StringRef fwdName, StringRef bwdName,
                      SmallVectorImpl<Operation *> *recomputedOps = nullptr);

private:
  struct StagePlan {
    SmallVector<Operation *> ops;
    llvm::SetVector<Value> inputs;
    llvm::SetVector<Value> outputs;
  };

  StageOutliner(ModuleOp module, func::FuncOp func) : module(module), func(func) {}
  SmallVector<Attribute> inputAttrs(const StagePlan &plan);
  SmallVector<Operation *> cloneStage(OpBuilder &builder, const StagePlan &plan, Block *entry,
                                     IRMapping &map);
  LogicalResult buildForward(int64_t s, ArrayRef<Value> keep, StringRef name);
  FailureOr<func::FuncOp> buildBackward(int64_t s, ArrayRef<Value> keep, StringRef name);

  ModuleOp module;
  func::FuncOp func;
  SmallVector<StagePlan> plans;
  DenseMap<Value, int64_t> stageOf;
  bool onlyTrainable = false;
  std::string pass;
};

} // namespace mlir::gpipe

#endif // GPIPE_TRANSFORMS_OUTLINESTAGES_H
