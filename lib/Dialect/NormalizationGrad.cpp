//===- NormalizationGrad.cpp - gradient rules of normalization ops --------===//

#include "gpipe/Dialect/GPipeOps.h"
#include "gpipe/Dialect/GradientBuilder.h"

using namespace mlir;
using namespace mlir::gpipe;

static RankedTensorType typeOf(Value v) { return cast<RankedTensorType>(v.getType()); }

LogicalResult BatchNormOp::buildGradients(GradientBuilder &g, ArrayRef<Value> resultGrads,
                                          SmallVectorImpl<Value> &operandGrads) {
  operandGrads.assign(5, Value());
  Value dy = resultGrads[0];
  if (!dy)
    return success();
  // y = scale * (x - mean) * r + bias with r = 1/sqrt(var + eps), per channel;
  // the running statistics are constants here.
  auto in = typeOf(getInput());
  Type t = in.getElementType();
  SmallVector<int64_t> perChannel(in.getRank(), 1), reduceAxes;
  perChannel[1] = in.getDimSize(1);
  for (int64_t d = 0; d < in.getRank(); ++d)
    if (d != 1)
      reduceAxes.push_back(d);
  Value r = g.same<ReciprocalOp>(
      g.same<SqrtOp>(g.add(getVar(), g.scalar(t, getEpsilon().convertToDouble()))));
  Value xhat = g.mul(g.sub(getInput(), g.reshape(getMean(), perChannel)), g.reshape(r, perChannel));
  operandGrads[0] = g.mul(dy, g.reshape(g.mul(getScale(), r), perChannel));
  operandGrads[1] = g.reduceSum(g.mul(dy, xhat), reduceAxes, /*keepDims=*/false);
  operandGrads[2] = g.reduceSum(dy, reduceAxes, /*keepDims=*/false);
  return success(!g.failed());
}

LogicalResult BatchNormTrainOp::buildGradients(GradientBuilder &g, ArrayRef<Value> resultGrads,
                                               SmallVectorImpl<Value> &operandGrads) {
  operandGrads.assign(5, Value());
  // Only the normalized output carries a gradient; the running statistics
  // are state, not part of the loss.
  Value dy = resultGrads[0];
  if (!dy)
    return success();
  Operation *op = g.create(BatchNormTrainGradOp::getOperationName(),
                           {dy, getInput(), getScale()}, {g.named("epsilon", getEpsilonAttr())}, 3);
  if (!op)
    return failure();
  operandGrads[0] = op->getResult(0);
  operandGrads[1] = op->getResult(1);
  operandGrads[2] = op->getResult(2);
  return success();
}

LogicalResult LayerNormOp::buildGradients(GradientBuilder &g, ArrayRef<Value> resultGrads,
                                          SmallVectorImpl<Value> &operandGrads) {
  operandGrads.assign(getNumOperands(), Value());
  Value dy = resultGrads[0];
  if (!dy)
    return success();
  Operation *op = g.create(LayerNormGradOp::getOperationName(), {dy, getInput(), getScale()},
                           {g.named("axis", getAxisAttr()), g.named("epsilon", getEpsilonAttr())},
                           3);
  if (!op)
    return failure();
  operandGrads[0] = op->getResult(0);
  operandGrads[1] = op->getResult(1);
  if (getBias())
    operandGrads[2] = op->getResult(2);
  return success();
}

LogicalResult SoftmaxOp::buildGradients(GradientBuilder &g, ArrayRef<Value> resultGrads,
                                        SmallVectorImpl<Value> &operandGrads) {
  operandGrads.assign(1, Value());
  Value dy = resultGrads[0];
  if (!dy)
    return success();
  // dx = y * (dy - sum(dy * y, axis)).
  Value y = getOutput();
  Value s = g.reduceSum(g.mul(dy, y), {(int64_t)getAxis()}, /*keepDims=*/true);
  operandGrads[0] = g.mul(y, g.sub(dy, s));
  return success(!g.failed());
}

LogicalResult LogSoftmaxOp::buildGradients(GradientBuilder &g, ArrayRef<Value> resultGrads,
                                           SmallVectorImpl<Value> &operandGrads) {
  operandGrads.assign(1, Value());
  Value dy = resultGrads[0];
  if (!dy)
    return success();
  // dx = dy - exp(y) * sum(dy, axis).
  Value s = g.reduceSum(dy, {(int64_t)getAxis()}, /*keepDims=*/true);
  operandGrads[0] = g.sub(dy, g.mul(g.same<ExpOp>(getOutput()), s));
  return success(!g.failed());
}

LogicalResult DropoutOp::buildGradients(GradientBuilder &g, ArrayRef<Value> resultGrads,
                                        SmallVectorImpl<Value> &operandGrads) {
  operandGrads.assign(getNumOperands(), Value());
  Value dy = resultGrads[0];
  if (!dy)
    return success();
  if (!getTraining()) {
    operandGrads[0] = dy;
    return success();
  }
  // The forward pass's mask, scaled as the kept elements were.
  Type t = typeOf(dy).getElementType();
  Value keep = g.make<CastOp>(getMask(), {g.named("to", TypeAttr::get(t))});
  double scale = 1.0 / (1.0 - getRatio().convertToDouble());
  operandGrads[0] = g.mul(g.mul(dy, keep), g.scalar(t, scale));
  return success(!g.failed());
}
