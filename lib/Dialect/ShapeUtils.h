//===- ShapeUtils.h - helpers shared by the op shape functions --*- C++ -*-===//

#ifndef GPIPE_LIB_DIALECT_SHAPEUTILS_H
#define GPIPE_LIB_DIALECT_SHAPEUTILS_H

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/SmallVector.h"
#include <optional>

namespace mlir::gpipe::shape {

/// Reports a shape-function failure as an op error at `loc` (when present).
template <typename... Args>
LogicalResult inferError(std::optional<Location> loc, llvm::StringRef opName,
                         Args &&...args) {
  return emitOptionalError(loc, "'", opName, "' op ",
                           std::forward<Args>(args)...);
}

/// NumPy broadcast of two static shapes; nullopt when they do not broadcast.
std::optional<llvm::SmallVector<int64_t>>
broadcastShapes(llvm::ArrayRef<int64_t> a, llvm::ArrayRef<int64_t> b);

/// Writes a shape as `[2, 3]` for diagnostics.
std::string shapeString(llvm::ArrayRef<int64_t> shape);

/// True when `values` is strictly increasing and within `[0, bound)`.
bool isSortedUniqueInRange(llvm::ArrayRef<int64_t> values, int64_t bound);

} // namespace mlir::gpipe::shape

#endif // GPIPE_LIB_DIALECT_SHAPEUTILS_H
