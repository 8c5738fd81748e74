//===- ToolSupport.h - what gpipe's command-line tools share ----*- C++ -*-===//

#ifndef GPIPE_SUPPORT_TOOLSUPPORT_H
#define GPIPE_SUPPORT_TOOLSUPPORT_H

#include "gpipe/Import/ONNXImporter.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/ArrayRef.h"

#include <optional>
#include <string>

namespace mlir::gpipe {

/// Prints every diagnostic as one line, `TOOL: error: <where>: <what>`, where
/// `<where>` is the ONNX node (`node 'NAME'`) or the file, and counts errors.
class OneLineDiagnostics {
public:
  OneLineDiagnostics(MLIRContext *context, llvm::StringRef tool);
  unsigned errors() const { return numErrors; }

private:
  std::string tool;
  unsigned numErrors = 0;
  ScopedDiagnosticHandler handler;
};

/// Fills `options` from `--batch-size` (0: unset) and `--dim NAME=SIZE`
/// flags; returns an error message for a malformed flag.
std::optional<std::string> parseShapeFlags(int64_t batchSize, bool batchSizeGiven,
                                           llvm::ArrayRef<std::string> dims,
                                           ImportOptions &options);

/// True for paths the ONNX importer reads (`.onnx`, `.onnxtxt`).
bool isONNXPath(llvm::StringRef path);

} // namespace mlir::gpipe

#endif // GPIPE_SUPPORT_TOOLSUPPORT_H
