//===- GPipeOps.h - gpipe op, attribute and enum declarations ---*- C++ -*-===//

#ifndef GPIPE_DIALECT_GPIPEOPS_H
#define GPIPE_DIALECT_GPIPEOPS_H

#include "gpipe/Dialect/GPipeDialect.h"

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "gpipe/Dialect/GPipeEnums.h.inc"

namespace mlir::gpipe {
/// The program state that gpipe.get_param reads and gpipe.set_param writes.
struct ParamResource : public SideEffects::Resource::Base<ParamResource> {
  StringRef getName() final { return "gpipe.params"; }
};
} // namespace mlir::gpipe

#define GET_ATTRDEF_CLASSES
#include "gpipe/Dialect/GPipeAttrs.h.inc"

namespace mlir::gpipe {
class GradientBuilder;
} // namespace mlir::gpipe
#include "gpipe/Dialect/GradientInterface.h.inc"

#define GET_OP_CLASSES
#include "gpipe/Dialect/GPipeOps.h.inc"

#include "gpipe/Transforms/Schedule.h"

namespace mlir::gpipe {
/// The schedule a `gpipe.pipeline` op spells out, checked (every stage runs
/// the forward and backward of every micro-batch once and updates once; the
/// sends meet their receives; no deadlock); `error` says what is wrong.
FailureOr<Schedule> scheduleFromIR(PipelineOp op, std::string &error);
/// Builds the `gpipe.pipeline` op of `schedule` for the stages of `function`.
void buildPipelineOp(OpBuilder &builder, Location loc, StringRef function,
                     const Schedule &schedule);
} // namespace mlir::gpipe

#endif // GPIPE_DIALECT_GPIPEOPS_H
