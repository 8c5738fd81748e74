//===- ONNXImporter.h - ONNX model to gpipe dialect -------------*- C++ -*-===//

#ifndef GPIPE_IMPORT_ONNXIMPORTER_H
#define GPIPE_IMPORT_ONNXIMPORTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include <optional>
#include <string>

namespace mlir::gpipe {

/// How to import a model.
struct ImportOptions {
  /// Binds every symbolic leading (batch) dimension of the graph's inputs and
  /// outputs.
  std::optional<int64_t> batchSize;
  /// Binds symbolic dimensions by name (`seq` -> 128).
  llvm::StringMap<int64_t> dims;
  /// Graph inputs whose values are fixed at import time, as serialized ONNX
  /// TensorProtos: they fold like constants instead of becoming function
  /// arguments (used to specialize a model to known shape inputs).
  llvm::StringMap<std::string> constantInputs;
  /// Name of the model function.
  std::string functionName = "main";
};

/// Imports the ONNX model in `path`: binary protobuf (`.onnx`) or ONNX text
/// syntax (`.onnxtxt`, or any file whose content is text). Errors are reported
/// through the context's diagnostic engine; returns null on failure.
OwningOpRef<ModuleOp> importONNXFile(llvm::StringRef path, MLIRContext *context,
                                     const ImportOptions &options);

/// Imports a model already in memory; `path` is where its initializers'
/// values are found (and what diagnostics name).
OwningOpRef<ModuleOp> importONNXBuffer(llvm::StringRef contents,
                                       llvm::StringRef path,
                                       MLIRContext *context,
                                       const ImportOptions &options);

} // namespace mlir::gpipe

#endif // GPIPE_IMPORT_ONNXIMPORTER_H
