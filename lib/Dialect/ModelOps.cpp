//===- ModelOps.cpp - parameters and their uses ---------------------------===//

#include "gpipe/Dialect/GPipeOps.h"

using namespace mlir;
using namespace mlir::gpipe;

LogicalResult ParamOp::verify() {
  auto type = cast<RankedTensorType>(getType());
  if (!type.hasStaticShape())
    return emitOpError("parameter type must be statically shaped, got ") << type;
  if (getFile().empty())
    return emitOpError("needs the file that holds the parameter's values");
  return success();
}

LogicalResult
GetParamOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  auto param =
      symbolTable.lookupNearestSymbolFrom<ParamOp>(*this, getNameAttr());
  if (!param)
    return emitOpError("'") << getName() << "' does not name a gpipe.param";
  if (param.getType() != getType())
    return emitOpError("result type ")
           << getType() << " differs from the parameter's type "
           << param.getType();
  return success();
}
