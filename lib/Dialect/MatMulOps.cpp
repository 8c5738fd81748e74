//===- MatMulOps.cpp - shape functions of matmul and gemm -----------------===//

#include "gpipe/Dialect/GPipeOps.h"
#include "ShapeUtils.h"

using namespace mlir;
using namespace mlir::gpipe;
using shape::inferError;
using shape::shapeString;

LogicalResult MatMulOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &results) {
  auto lhsType = cast<RankedTensorType>(adaptor.getLhs().getType());
  auto rhsType = cast<RankedTensorType>(adaptor.getRhs().getType());
  if (lhsType.getRank() == 0 || rhsType.getRank() == 0)
    return inferError(loc, getOperationName(), "operands must have rank >= 1");
  SmallVector<int64_t> lhs(lhsType.getShape()), rhs(rhsType.getShape());
  bool lhsVector = lhs.size() == 1, rhsVector = rhs.size() == 1;
  if (lhsVector)
    lhs.insert(lhs.begin(), 1);
  if (rhsVector)
    rhs.push_back(1);
  int64_t k1 = lhs.back(), k2 = rhs[rhs.size() - 2];
  if (k1 != k2)
    return inferError(loc, getOperationName(), "contracting dimensions differ: ",
                      shapeString(lhsType.getShape()), " x ",
                      shapeString(rhsType.getShape()));
  auto batch = shape::broadcastShapes(ArrayRef<int64_t>(lhs).drop_back(2),
                                       ArrayRef<int64_t>(rhs).drop_back(2));
  if (!batch)
    return inferError(loc, getOperationName(), "batch dimensions of ",
                      shapeString(lhsType.getShape()), " and ",
                      shapeString(rhsType.getShape()), " do not broadcast");
  SmallVector<int64_t> shape = *batch;
  if (!lhsVector)
    shape.push_back(lhs[lhs.size() - 2]);
  if (!rhsVector)
    shape.push_back(rhs.back());
  results.push_back(RankedTensorType::get(shape, lhsType.getElementType()));
  return success();
}

LogicalResult GemmOp::inferReturnTypes(MLIRContext *,
                                       std::optional<Location> loc,
                                       Adaptor adaptor,
                                       SmallVectorImpl<Type> &results) {
  auto a = cast<RankedTensorType>(adaptor.getA().getType());
  auto b = cast<RankedTensorType>(adaptor.getB().getType());
  if (a.getRank() != 2 || b.getRank() != 2)
    return inferError(loc, getOperationName(), "operands a and b must have rank 2");
  bool ta = adaptor.getTransA(), tb = adaptor.getTransB();
  int64_t m = a.getDimSize(ta ? 1 : 0), ka = a.getDimSize(ta ? 0 : 1);
  int64_t kb = b.getDimSize(tb ? 1 : 0), n = b.getDimSize(tb ? 0 : 1);
  if (ka != kb)
    return inferError(loc, getOperationName(), "contracting dimensions differ: op(a) is ",
                      shapeString({m, ka}), ", op(b) is ", shapeString({kb, n}));
  if (Value c = adaptor.getC()) {
    auto cType = cast<RankedTensorType>(c.getType());
    auto bc = shape::broadcastShapes(cType.getShape(), {m, n});
    if (cType.getRank() > 2 || !bc || (*bc)[0] != m || (*bc)[1] != n)
      return inferError(loc, getOperationName(), "c of shape ",
                        shapeString(cType.getShape()),
                        " does not broadcast to ", shapeString({m, n}));
  }
  results.push_back(RankedTensorType::get({m, n}, a.getElementType()));
  return success();
}
