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

#endif // GPIPE_DIALECT_GPIPEOPS_H
