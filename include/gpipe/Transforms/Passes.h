//===- Passes.h - gpipe pass declarations -----------------------*- C++ -*-===//

#ifndef GPIPE_TRANSFORMS_PASSES_H
#define GPIPE_TRANSFORMS_PASSES_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::gpipe {

#define GEN_PASS_DECL
#include "gpipe/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "gpipe/Transforms/Passes.h.inc"

/// Registers `gpipe-schedule-svg=PATH`, gpipe-schedule-report drawing the
/// GPipe schedule's timeline to PATH.
void registerScheduleSvgPipeline();

} // namespace mlir::gpipe

#endif // GPIPE_TRANSFORMS_PASSES_H
