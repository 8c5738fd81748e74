//===- ConstTensor.h - tensors whose values the importer knows --*- C++ -*-===//
//
// Values known at import time: small initializers, Constant nodes and the
// results of folding PyTorch's shape-computing subgraphs.
//
//===----------------------------------------------------------------------===//

#ifndef GPIPE_LIB_IMPORT_CONSTTENSOR_H
#define GPIPE_LIB_IMPORT_CONSTTENSOR_H

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/SmallVector.h"
#include <string>
#include <vector>

namespace onnx {
class TensorProto;
}

namespace mlir::gpipe::import {

/// A host tensor; integers and booleans are held as int64, floats as double.
struct ConstTensor {
  llvm::SmallVector<int64_t> shape;
  /// ONNX TensorProto data type.
  int32_t dtype = 0;
  std::vector<int64_t> ints;
  std::vector<double> floats;

  bool isFloat() const;
  int64_t numElements() const;
  int64_t intAt(int64_t i) const { return isFloat() ? (int64_t)floats[i] : ints[i]; }
  double floatAt(int64_t i) const { return isFloat() ? floats[i] : (double)ints[i]; }
  /// Sets element `i`, converting to the tensor's kind.
  void set(int64_t i, double f, int64_t n);
  /// An empty tensor of `shape` and `dtype` with storage allocated.
  static ConstTensor make(int32_t dtype, llvm::ArrayRef<int64_t> shape);
  static ConstTensor ints1D(llvm::ArrayRef<int64_t> values);

  /// The values as a dense attribute of the matching MLIR type.
  DenseElementsAttr toAttr(MLIRContext *ctx) const;
};

/// True for the ONNX data types the importer maps to MLIR types.
bool isSupportedDType(int32_t dtype);
/// The MLIR element type of an ONNX data type (null when unsupported).
Type elementTypeFor(int32_t dtype, MLIRContext *ctx);
/// The ONNX data type name, for diagnostics.
std::string dtypeName(int32_t dtype);
/// Size of one element in bytes (0 when unsupported).
int64_t dtypeBytes(int32_t dtype);

/// Reads an in-memory initializer or Constant value; fails with `error` set.
bool readTensorProto(const onnx::TensorProto &proto, ConstTensor &out,
                     std::string &error);

} // namespace mlir::gpipe::import

#endif // GPIPE_LIB_IMPORT_CONSTTENSOR_H
