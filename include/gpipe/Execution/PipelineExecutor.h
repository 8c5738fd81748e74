//===- PipelineExecutor.h - stages as threads exchanging messages -*- C++ -*-===//
//
// Runs the stage functions of gpipe-outline-stages as a pipeline: one thread
// per stage, each executing its program of a pipeline schedule (GPipe or
// 1F1B) over M micro-batches, with activations and gradients passed as
// messages through FIFO channels between every pair of stages that exchange
// values (a skip connection has its own channel). A message that arrives out
// of the order a program expects is an error naming both stages, as a
// mismatched send/recv on devices would be.
//
//===----------------------------------------------------------------------===//

#ifndef GPIPE_EXECUTION_PIPELINEEXECUTOR_H
#define GPIPE_EXECUTION_PIPELINEEXECUTOR_H

#include "gpipe/Execution/Interpreter.h"
#include "gpipe/Transforms/Schedule.h"

#include "mlir/IR/BuiltinOps.h"

#include <map>
#include <string>
#include <vector>

namespace mlir::gpipe {

struct PipelineResult {
  /// outputs[mb][i]: the function's i-th result for micro-batch mb.
  std::vector<std::vector<HostTensor>> outputs;
  /// Parameter gradients summed over micro-batches and over the stages that
  /// read the parameter.
  std::map<std::string, HostTensor> paramGrads;
};

/// Runs `schedule` over the stage functions of `function` in `module`: per
/// stage, the ones `schedule.functions` names (gpipe.stage_program's
/// `recomputing` and `keeping` pairs), or by default `<function>_stage<s>_`
/// `forward`/`backward` for a micro-batch the program recomputes and
/// `forward_keep`/`backward_keep` for the others. What a forward keeps
/// (results marked gpipe.kept) is held until the micro-batch's backward.
/// `inputs[mb]` are the function's arguments for micro-batch mb;
/// `outputGrads[mb]` the gradients of its results (the backward seeds; a
/// null tensor for a non-float result). `stores[s]` holds stage s's
/// parameters (a stage reads only its own). Errors (a failing op, a message
/// out of order, missing or mis-wired stage functions) return failure with
/// `error` set; the other stages are stopped.
FailureOr<PipelineResult>
runPipeline(ModuleOp module, StringRef function, const Schedule &schedule,
            const std::vector<std::vector<HostTensor>> &inputs,
            const std::vector<std::vector<HostTensor>> &outputGrads,
            std::vector<ParamStore> &stores, std::string &error);

} // namespace mlir::gpipe

#endif // GPIPE_EXECUTION_PIPELINEEXECUTOR_H
