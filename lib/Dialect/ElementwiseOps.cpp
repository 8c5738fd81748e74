//===- ElementwiseOps.cpp - shape functions of elementwise ops ------------===//

#include "gpipe/Dialect/GPipeOps.h"
#include "ShapeUtils.h"

using namespace mlir;
using namespace mlir::gpipe;
using shape::inferError;

namespace {
/// Broadcasts `types` with NumPy rules; the result takes `elementType`.
LogicalResult inferBroadcast(std::optional<Location> loc, StringRef opName,
                             ArrayRef<Type> types, Type elementType,
                             SmallVectorImpl<Type> &results) {
  SmallVector<int64_t> shape;
  for (Type t : types) {
    auto ranked = cast<RankedTensorType>(t);
    auto b = shape::broadcastShapes(shape, ranked.getShape());
    if (!b)
      return inferError(loc, opName, "operand shapes ",
                        shape::shapeString(shape), " and ",
                        shape::shapeString(ranked.getShape()),
                        " do not broadcast");
    shape = *b;
  }
  results.push_back(RankedTensorType::get(shape, elementType));
  return success();
}

template <typename OpTy>
LogicalResult inferBinary(std::optional<Location> loc,
                          typename OpTy::Adaptor adaptor, bool boolResult,
                          SmallVectorImpl<Type> &results) {
  Type lhs = adaptor.getLhs().getType(), rhs = adaptor.getRhs().getType();
  Type elt = cast<RankedTensorType>(lhs).getElementType();
  if (elt != cast<RankedTensorType>(rhs).getElementType())
    return inferError(loc, OpTy::getOperationName(),
                      "operands have different element types");
  if (boolResult)
    elt = IntegerType::get(lhs.getContext(), 1);
  return inferBroadcast(loc, OpTy::getOperationName(), {lhs, rhs}, elt,
                        results);
}
} // namespace

#define GPIPE_BINARY_INFER(OP, BOOL)                                           \
  LogicalResult OP::inferReturnTypes(MLIRContext *, std::optional<Location> loc, \
                                     Adaptor adaptor,                          \
                                     SmallVectorImpl<Type> &results) {         \
    return inferBinary<OP>(loc, adaptor, BOOL, results);                       \
  }
GPIPE_BINARY_INFER(AddOp, false)
GPIPE_BINARY_INFER(SubOp, false)
GPIPE_BINARY_INFER(MulOp, false)
GPIPE_BINARY_INFER(DivOp, false)
GPIPE_BINARY_INFER(PowOp, false)
GPIPE_BINARY_INFER(MaxOp, false)
GPIPE_BINARY_INFER(MinOp, false)
GPIPE_BINARY_INFER(AndOp, false)
GPIPE_BINARY_INFER(OrOp, false)
GPIPE_BINARY_INFER(EqualOp, true)
GPIPE_BINARY_INFER(LessOp, true)
GPIPE_BINARY_INFER(LessEqualOp, true)
GPIPE_BINARY_INFER(GreaterOp, true)
GPIPE_BINARY_INFER(GreaterEqualOp, true)
#undef GPIPE_BINARY_INFER

LogicalResult ModOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                      Adaptor adaptor, SmallVectorImpl<Type> &results) {
  Type lhs = adaptor.getLhs().getType(), rhs = adaptor.getRhs().getType();
  return inferBroadcast(loc, getOperationName(), {lhs, rhs},
                        cast<RankedTensorType>(lhs).getElementType(), results);
}

LogicalResult ModOp::verify() {
  if (isa<FloatType>(getLhs().getType().getElementType()) && !getFmod())
    return emitOpError("float operands need fmod = true");
  return success();
}

LogicalResult WhereOp::inferReturnTypes(MLIRContext *,
                                        std::optional<Location> loc,
                                        Adaptor adaptor,
                                        SmallVectorImpl<Type> &results) {
  Type lhs = adaptor.getLhs().getType(), rhs = adaptor.getRhs().getType();
  Type elt = cast<RankedTensorType>(lhs).getElementType();
  if (elt != cast<RankedTensorType>(rhs).getElementType())
    return inferError(loc, getOperationName(),
                      "lhs and rhs have different element types");
  return inferBroadcast(loc, getOperationName(),
                        {adaptor.getCondition().getType(), lhs, rhs}, elt,
                        results);
}

LogicalResult CastOp::inferReturnTypes(MLIRContext *,
                                       std::optional<Location> loc,
                                       Adaptor adaptor,
                                       SmallVectorImpl<Type> &results) {
  Type to = adaptor.getTo();
  if (!to.isIntOrFloat())
    return inferError(loc, getOperationName(), "target type ", to,
                      " is not an integer or float type");
  auto in = cast<RankedTensorType>(adaptor.getInput().getType());
  results.push_back(in.clone(to));
  return success();
}

LogicalResult ClipOp::verify() {
  if (getMin() && getMax() && getMin()->convertToDouble() > getMax()->convertToDouble())
    return emitOpError("min ") << getMin()->convertToDouble()
                               << " is greater than max "
                               << getMax()->convertToDouble();
  return success();
}
