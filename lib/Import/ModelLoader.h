//===- ModelLoader.h - reading and validating ONNX files --------*- C++ -*-===//

#ifndef GPIPE_LIB_IMPORT_MODELLOADER_H
#define GPIPE_LIB_IMPORT_MODELLOADER_H

#include "llvm/ADT/StringRef.h"
#include <string>

namespace onnx {
class ModelProto;
}

namespace mlir::gpipe::import {

/// Parses `contents` as a binary or text ONNX model and runs ONNX's checker.
/// On failure returns false with a one-line reason in `error`.
bool loadModel(llvm::StringRef contents, llvm::StringRef path,
               onnx::ModelProto &model, std::string &error);

/// Runs ONNX shape inference (strict, with data propagation) in place.
bool inferShapes(onnx::ModelProto &model, std::string &error);

} // namespace mlir::gpipe::import

#endif // GPIPE_LIB_IMPORT_MODELLOADER_H
