//===- ReportUtils.h - what the report passes share -------------*- C++ -*-===//

#ifndef GPIPE_TRANSFORMS_REPORTUTILS_H
#define GPIPE_TRANSFORMS_REPORTUTILS_H

#include "gpipe/Transforms/CostModel.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/raw_ostream.h"

#include <memory>

namespace mlir::gpipe {

/// Opens `path` for a report ('-': stdout); reports failures on `anchor`.
std::unique_ptr<llvm::raw_ostream> openReport(llvm::StringRef path, Operation *anchor);

/// The model function `name` of `module`, or an error.
func::FuncOp lookupModelFunction(ModuleOp module, llvm::StringRef name, llvm::StringRef pass);

/// Gradient + optimizer-state bytes per parameter byte of an optimizer name,
/// or a negative value for an unknown name.
double optimizerStateFactor(llvm::StringRef optimizer);

} // namespace mlir::gpipe

#endif // GPIPE_TRANSFORMS_REPORTUTILS_H
