//===- GPipeOps.cpp - the ODS-generated op definitions --------------------===//
//
// Hand-written op logic lives in one file per op family beside this one.
//
//===----------------------------------------------------------------------===//

#include "gpipe/Dialect/GPipeOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace mlir::gpipe;

#define GET_OP_CLASSES
#include "gpipe/Dialect/GPipeOps.cpp.inc"
