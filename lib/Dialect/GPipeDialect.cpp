//===- GPipeDialect.cpp - dialect registration and shared helpers ---------===//

#include "gpipe/Dialect/GPipeDialect.h"
#include "gpipe/Dialect/GPipeOps.h"
#include "ShapeUtils.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::gpipe;

#include "gpipe/Dialect/GPipeDialect.cpp.inc"
#include "gpipe/Dialect/GPipeEnums.cpp.inc"
#include "gpipe/Dialect/GradientInterface.cpp.inc"
#define GET_ATTRDEF_CLASSES
#include "gpipe/Dialect/GPipeAttrs.cpp.inc"

void GPipeDialect::initialize() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "gpipe/Dialect/GPipeAttrs.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "gpipe/Dialect/GPipeOps.cpp.inc"
      >();
}

std::optional<SmallVector<int64_t>>
shape::broadcastShapes(ArrayRef<int64_t> a, ArrayRef<int64_t> b) {
  size_t rank = std::max(a.size(), b.size());
  SmallVector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da == db || db == 1)
      out[i] = da;
    else if (da == 1)
      out[i] = db;
    else
      return std::nullopt;
  }
  return out;
}

std::string shape::shapeString(ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i)
      s += ", ";
    s += ShapedType::isDynamic(shape[i]) ? "?" : std::to_string(shape[i]);
  }
  return s + "]";
}

bool shape::isSortedUniqueInRange(ArrayRef<int64_t> values, int64_t bound) {
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i] < 0 || values[i] >= bound)
      return false;
    if (i && values[i] <= values[i - 1])
      return false;
  }
  return true;
}
