//===- GPipeDialect.h - the gpipe dialect -----------------------*- C++ -*-===//

#ifndef GPIPE_DIALECT_GPIPEDIALECT_H
#define GPIPE_DIALECT_GPIPEDIALECT_H

#include "mlir/IR/Dialect.h"

#include "gpipe/Dialect/GPipeDialect.h.inc"

#endif // GPIPE_DIALECT_GPIPEDIALECT_H
