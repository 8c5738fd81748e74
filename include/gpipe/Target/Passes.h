//===- Passes.h - passes of the code generation targets ---------*- C++ -*-===//

#ifndef GPIPE_TARGET_PASSES_H
#define GPIPE_TARGET_PASSES_H

#include "mlir/Pass/Pass.h"

namespace mlir::gpipe {
#define GEN_PASS_DECL
#include "gpipe/Target/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "gpipe/Target/Passes.h.inc"
} // namespace mlir::gpipe

#endif // GPIPE_TARGET_PASSES_H
