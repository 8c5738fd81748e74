//===- WeightReader.h - parameter values from ONNX files --------*- C++ -*-===//

#ifndef GPIPE_IMPORT_WEIGHTREADER_H
#define GPIPE_IMPORT_WEIGHTREADER_H

#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include <memory>
#include <string>
#include <vector>

namespace mlir::gpipe {

/// Reads initializers (what `gpipe.param` refers to) from ONNX models, inline
/// or in external data files. Each model file is parsed once.
class WeightReader {
public:
  WeightReader();
  ~WeightReader();

  /// Copies initializer `name` of `file` into `dst`, which holds
  /// `type.getNumElements()` elements of `type`'s element type (booleans as
  /// one byte each). Fails with a one-line reason in `error`.
  bool read(llvm::StringRef file, llvm::StringRef name, RankedTensorType type,
            void *dst, std::string &error);

private:
  struct Model;
  llvm::StringMap<std::unique_ptr<Model>> models;
};

/// Writes a copy of the ONNX model `source` to `dest` in which each
/// initializer named in `values` holds the given bytes (raw, little-endian,
/// the initializer's own type and size) instead of its original data.
bool writeModelWithInitializers(llvm::StringRef source, llvm::StringRef dest,
                                const llvm::StringMap<llvm::StringRef> &values,
                                std::string &error);

/// A tensor decoded from a serialized ONNX TensorProto (a test case's
/// `input_0.pb`): its name, type and little-endian bytes (bool: one byte).
struct DecodedTensor {
  std::string name;
  RankedTensorType type;
  std::vector<char> data;
};
bool decodeTensorProto(llvm::StringRef bytes, MLIRContext *context,
                       DecodedTensor &out, std::string &error);

} // namespace mlir::gpipe

#endif // GPIPE_IMPORT_WEIGHTREADER_H
