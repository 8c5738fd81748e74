//===- NormalizationOps.cpp - shape functions of normalization ops --------===//

#include "gpipe/Dialect/GPipeOps.h"
#include "ShapeUtils.h"

using namespace mlir;
using namespace mlir::gpipe;
using shape::inferError;
using shape::shapeString;

/// Checks that every per-channel operand of a batch norm is `[C]`.
static LogicalResult checkChannelOperands(std::optional<Location> loc,
                                          StringRef name, RankedTensorType in,
                                          ValueRange perChannel) {
  if (in.getRank() < 2)
    return inferError(loc, name, "expects an input of rank >= 2, got ",
                      shapeString(in.getShape()));
  int64_t c = in.getDimSize(1);
  for (Value v : perChannel) {
    auto t = cast<RankedTensorType>(v.getType());
    if (t.getRank() != 1 || t.getDimSize(0) != c)
      return inferError(loc, name, "per-channel operands must have shape [", c,
                        "], got ", shapeString(t.getShape()));
  }
  return success();
}

LogicalResult BatchNormOp::inferReturnTypes(MLIRContext *,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &results) {
  auto in = cast<RankedTensorType>(adaptor.getInput().getType());
  if (failed(checkChannelOperands(loc, getOperationName(), in,
                                  {adaptor.getScale(), adaptor.getBias(),
                                   adaptor.getMean(), adaptor.getVar()})))
    return failure();
  results.push_back(in);
  return success();
}

LogicalResult BatchNormTrainOp::inferReturnTypes(
    MLIRContext *, std::optional<Location> loc, Adaptor adaptor,
    SmallVectorImpl<Type> &results) {
  auto in = cast<RankedTensorType>(adaptor.getInput().getType());
  if (failed(checkChannelOperands(loc, getOperationName(), in,
                                  {adaptor.getScale(), adaptor.getBias(),
                                   adaptor.getRunningMean(),
                                   adaptor.getRunningVar()})))
    return failure();
  float momentum = adaptor.getMomentum().convertToFloat();
  if (!(momentum >= 0.0f && momentum <= 1.0f))
    return inferError(loc, getOperationName(), "momentum ", momentum,
                      " is outside [0, 1]");
  results.push_back(in);
  results.push_back(adaptor.getRunningMean().getType());
  results.push_back(adaptor.getRunningVar().getType());
  return success();
}

LogicalResult LayerNormOp::inferReturnTypes(MLIRContext *,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &results) {
  auto in = cast<RankedTensorType>(adaptor.getInput().getType());
  int64_t axis = adaptor.getAxis();
  if (axis < 0 || axis >= in.getRank())
    return inferError(loc, getOperationName(), "axis ", axis,
                      " is out of range for rank ", in.getRank());
  ArrayRef<int64_t> normShape = in.getShape().drop_front(axis);
  for (Value v : {adaptor.getScale(), adaptor.getBias()}) {
    if (!v)
      continue;
    auto t = cast<RankedTensorType>(v.getType());
    if (t.getShape() != normShape)
      return inferError(loc, getOperationName(), "scale and bias must have shape ",
                        shapeString(normShape), ", got ",
                        shapeString(t.getShape()));
  }
  results.push_back(in);
  return success();
}

static LogicalResult inferSoftmax(std::optional<Location> loc, StringRef name,
                                  Value input, int64_t axis,
                                  SmallVectorImpl<Type> &results) {
  auto in = cast<RankedTensorType>(input.getType());
  if (axis < 0 || axis >= in.getRank())
    return inferError(loc, name, "axis ", axis, " is out of range for rank ",
                      in.getRank());
  results.push_back(in);
  return success();
}

LogicalResult SoftmaxOp::inferReturnTypes(MLIRContext *,
                                          std::optional<Location> loc,
                                          Adaptor adaptor,
                                          SmallVectorImpl<Type> &results) {
  return inferSoftmax(loc, getOperationName(), adaptor.getInput(),
                      adaptor.getAxis(), results);
}

LogicalResult LogSoftmaxOp::inferReturnTypes(MLIRContext *,
                                             std::optional<Location> loc,
                                             Adaptor adaptor,
                                             SmallVectorImpl<Type> &results) {
  return inferSoftmax(loc, getOperationName(), adaptor.getInput(),
                      adaptor.getAxis(), results);
}

LogicalResult DropoutOp::verify() {
  if (Value rng = getRng()) {
    auto type = cast<RankedTensorType>(rng.getType());
    if (type.getRank() != 1 || type.getDimSize(0) != 2)
      return emitOpError("rng must be tensor<2xi64> (stream, part), got ") << type;
  }
  return success();
}

LogicalResult DropoutOp::inferReturnTypes(MLIRContext *ctx,
                                          std::optional<Location> loc,
                                          Adaptor adaptor,
                                          SmallVectorImpl<Type> &results) {
  float ratio = adaptor.getRatio().convertToFloat();
  if (!(ratio >= 0.0f && ratio < 1.0f))
    return inferError(loc, getOperationName(), "ratio ", ratio,
                      " is outside [0, 1)");
  auto in = cast<RankedTensorType>(adaptor.getInput().getType());
  results.push_back(in);
  results.push_back(in.clone(IntegerType::get(ctx, 1)));
  return success();
}
