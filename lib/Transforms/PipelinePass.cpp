//===- PipelinePass.cpp - the gpipe-pipeline pass -------------------------===//
//
// Writes the micro-batch schedule of an outlined, partitioned function into
// the IR as a gpipe.pipeline op: per stage, the ordered forward, recompute,
// backward, send, receive and update actions. The op's verifier checks it.
//
//===----------------------------------------------------------------------===//

#include "gpipe/Dialect/GPipeOps.h"
#include "gpipe/Transforms/Passes.h"
#include "gpipe/Transforms/Schedule.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace mlir::gpipe {
#define GEN_PASS_DEF_PIPELINE
#include "gpipe/Transforms/Passes.h.inc"
} // namespace mlir::gpipe

using namespace mlir;
using namespace mlir::gpipe;

namespace {
class PipelinePass : public gpipe::impl::PipelineBase<PipelinePass> {
public:
  using PipelineBase::PipelineBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto fail = [&](const Twine &msg) {
      module.emitError("gpipe-pipeline: ") << msg;
      signalPassFailure();
    };
    if (microBatches < 1)
      return fail("micro-batches must be positive");
    std::optional<ScheduleKind> kind = parseScheduleKind(schedule);
    if (!kind)
      return fail("schedule must be gpipe or 1f1b, got '" + schedule.getValue() + "'");
    std::optional<RecomputePolicy> policy = parseRecomputePolicy(recompute);
    if (!policy)
      return fail("recompute must be none, full or except-last, got '" + recompute.getValue() +
                  "'");
    auto func = module.lookupSymbol<func::FuncOp>(function);
    if (!func)
      return fail("the module has no function @" + function.getValue());
    int stages = 0;
    while (module.lookupSymbol<func::FuncOp>(
               (function + "_stage" + Twine(stages) + "_forward").str()) &&
           module.lookupSymbol<func::FuncOp>(
               (function + "_stage" + Twine(stages) + "_backward").str()))
      ++stages;
    if (stages == 0)
      return fail("@" + function.getValue() +
                  " has no stage functions; run gpipe-partition and gpipe-outline-stages first");
    for (auto existing : module.getOps<PipelineOp>())
      if (existing.getFunction() == function)
        return fail("@" + function.getValue() + " already has a gpipe.pipeline");
    OpBuilder builder(module.getBodyRegion());
    builder.setInsertionPointToEnd(module.getBody());
    buildPipelineOp(builder, func.getLoc(), function,
                    buildSchedule(stages, static_cast<int>(microBatches), *kind, *policy));
  }
};
} // namespace
