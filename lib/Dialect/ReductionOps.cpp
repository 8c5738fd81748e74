//===- ReductionOps.cpp - shape functions of reductions -------------------===//

#include "gpipe/Dialect/GPipeOps.h"
#include "ShapeUtils.h"

using namespace mlir;
using namespace mlir::gpipe;
using shape::inferError;

static LogicalResult inferReduce(std::optional<Location> loc, StringRef name,
                                 Value input, ArrayRef<int64_t> axes,
                                 bool keepDims, SmallVectorImpl<Type> &results) {
  auto in = cast<RankedTensorType>(input.getType());
  if (!shape::isSortedUniqueInRange(axes, in.getRank()))
    return inferError(loc, name, "axes must be sorted, unique and in [0, ",
                      in.getRank(), ")");
  SmallVector<int64_t> shape;
  for (int64_t d = 0; d < in.getRank(); ++d) {
    bool reduced = axes.empty() || llvm::is_contained(axes, d);
    if (!reduced)
      shape.push_back(in.getDimSize(d));
    else if (keepDims)
      shape.push_back(1);
  }
  results.push_back(RankedTensorType::get(shape, in.getElementType()));
  return success();
}

#define GPIPE_REDUCE_INFER(OP)                                                 \
  LogicalResult OP::inferReturnTypes(MLIRContext *, std::optional<Location> loc, \
                                     Adaptor adaptor,                          \
                                     SmallVectorImpl<Type> &results) {         \
    return inferReduce(loc, getOperationName(), adaptor.getInput(),           \
                       adaptor.getAxes(), adaptor.getKeepDims(), results);    \
  }
GPIPE_REDUCE_INFER(ReduceSumOp)
GPIPE_REDUCE_INFER(ReduceMeanOp)
GPIPE_REDUCE_INFER(ReduceMaxOp)
GPIPE_REDUCE_INFER(ReduceMinOp)
#undef GPIPE_REDUCE_INFER

static LogicalResult inferArgReduce(MLIRContext *ctx, std::optional<Location> loc,
                                    StringRef name, Value input, int64_t axis, bool keepDims,
                                    SmallVectorImpl<Type> &results) {
  auto in = cast<RankedTensorType>(input.getType());
  if (axis < 0 || axis >= in.getRank())
    return inferError(loc, name, "axis ", axis, " is out of range for rank ", in.getRank());
  if (in.getDimSize(axis) == 0)
    return inferError(loc, name, "cannot take the index of an extreme over an empty axis");
  SmallVector<int64_t> shape;
  for (int64_t d = 0; d < in.getRank(); ++d)
    if (d != axis)
      shape.push_back(in.getDimSize(d));
    else if (keepDims)
      shape.push_back(1);
  results.push_back(RankedTensorType::get(shape, IntegerType::get(ctx, 64)));
  return success();
}

LogicalResult ArgMaxOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                         Adaptor adaptor, SmallVectorImpl<Type> &results) {
  return inferArgReduce(ctx, loc, getOperationName(), adaptor.getInput(), adaptor.getAxis(),
                        adaptor.getKeepDims(), results);
}

LogicalResult ArgMinOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                         Adaptor adaptor, SmallVectorImpl<Type> &results) {
  return inferArgReduce(ctx, loc, getOperationName(), adaptor.getInput(), adaptor.getAxis(),
                        adaptor.getKeepDims(), results);
}
