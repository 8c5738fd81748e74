//===- ModelOps.cpp - parameters and their uses ---------------------------===//

#include "gpipe/Dialect/GPipeOps.h"

using namespace mlir;
using namespace mlir::gpipe;

LogicalResult ParamOp::verify() {
  auto type = cast<RankedTensorType>(getType());
  if (!type.hasStaticShape())
    return emitOpError("parameter type must be statically shaped, got ") << type;
  bool fromFile = getFile() && getInitializer();
  if (fromFile == getZeroInit())
    return emitOpError("needs either a file and an initializer, or zero_init");
  if (getFile() && getFile()->empty())
    return emitOpError("needs the file that holds the parameter's values");
  return success();
}

/// The parameter `name` refers to from `op`, checked against `type`.
static LogicalResult verifyParamUse(Operation *op, FlatSymbolRefAttr name, Type type,
                                    SymbolTableCollection &symbolTable) {
  auto param = symbolTable.lookupNearestSymbolFrom<ParamOp>(op, name);
  if (!param)
    return op->emitOpError("'") << name.getValue() << "' does not name a gpipe.param";
  if (param.getType() != type)
    return op->emitOpError("type ") << type << " differs from the parameter's type "
                                     << param.getType();
  return success();
}

LogicalResult SetParamOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  return verifyParamUse(*this, getNameAttr(), getValue().getType(), symbolTable);
}

LogicalResult
GetParamOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  return verifyParamUse(*this, getNameAttr(), getType(), symbolTable);
}
