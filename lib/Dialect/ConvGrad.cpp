//===- ConvGrad.cpp - gradient rules of convolution and pooling -----------===//

#include "gpipe/Dialect/GPipeOps.h"
#include "gpipe/Dialect/GradientBuilder.h"

using namespace mlir;
using namespace mlir::gpipe;

static RankedTensorType typeOf(Value v) { return cast<RankedTensorType>(v.getType()); }

LogicalResult ConvOp::buildGradients(GradientBuilder &g, ArrayRef<Value> resultGrads,
                                     SmallVectorImpl<Value> &operandGrads) {
  operandGrads.assign(getNumOperands(), Value());
  Value dy = resultGrads[0];
  if (!dy)
    return success();
  SmallVector<NamedAttribute> attrs{g.named("strides", getStridesAttr()),
                                    g.named("pads", getPadsAttr()),
                                    g.named("dilations", getDilationsAttr()),
                                    g.named("groups", getGroupsAttr())};
  SmallVector<NamedAttribute> inAttrs(attrs), wAttrs(attrs);
  inAttrs.push_back(g.named("input_shape", g.i64Array(typeOf(getInput()).getShape())));
  wAttrs.push_back(g.named("weight_shape", g.i64Array(typeOf(getWeight()).getShape())));
  operandGrads[0] = g.make<ConvGradInputOp>({dy, getWeight()}, inAttrs);
  operandGrads[1] = g.make<ConvGradWeightOp>({dy, getInput()}, wAttrs);
  if (getBias())
    operandGrads[2] = g.reduceSum(dy, {0, 2, 3}, /*keepDims=*/false);
  return success(!g.failed());
}

LogicalResult MaxPoolOp::buildGradients(GradientBuilder &g, ArrayRef<Value> resultGrads,
                                        SmallVectorImpl<Value> &operandGrads) {
  operandGrads.assign(1, Value());
  if (Value dy = resultGrads[0])
    operandGrads[0] = g.make<MaxPoolGradOp>(
        {dy, getInput()}, {g.named("kernel", getKernelAttr()), g.named("strides", getStridesAttr()),
                           g.named("pads", getPadsAttr()),
                           g.named("dilations", getDilationsAttr())});
  return success(!g.failed());
}

LogicalResult AvgPoolOp::buildGradients(GradientBuilder &g, ArrayRef<Value> resultGrads,
                                        SmallVectorImpl<Value> &operandGrads) {
  operandGrads.assign(1, Value());
  if (Value dy = resultGrads[0])
    operandGrads[0] = g.make<AvgPoolGradOp>(
        dy, {g.named("kernel", getKernelAttr()), g.named("strides", getStridesAttr()),
             g.named("pads", getPadsAttr()), g.named("count_include_pad", getCountIncludePadAttr()),
             g.named("input_shape", g.i64Array(typeOf(getInput()).getShape()))});
  return success(!g.failed());
}

LogicalResult GlobalAvgPoolOp::buildGradients(GradientBuilder &g, ArrayRef<Value> resultGrads,
                                              SmallVectorImpl<Value> &operandGrads) {
  operandGrads.assign(1, Value());
  Value dy = resultGrads[0];
  if (!dy)
    return success();
  auto in = typeOf(getInput());
  Value scaled = g.div(dy, g.scalar(in.getElementType(), in.getDimSize(2) * in.getDimSize(3)));
  operandGrads[0] = g.make<ExpandOp>(scaled, {g.named("shape", g.i64Array(in.getShape()))});
  return success(!g.failed());
}

LogicalResult GlobalMaxPoolOp::buildGradients(GradientBuilder &g, ArrayRef<Value> resultGrads,
                                              SmallVectorImpl<Value> &operandGrads) {
  operandGrads.assign(1, Value());
  Value dy = resultGrads[0];
  if (!dy)
    return success();
  auto in = typeOf(getInput());
  auto shape = g.named("shape", g.i64Array(in.getShape()));
  Value isMax = g.make<EqualOp>({getInput(), g.make<ExpandOp>(getOutput(), {shape})});
  operandGrads[0] = g.make<WhereOp>({isMax, g.make<ExpandOp>(dy, {shape}),
                                     g.scalar(in.getElementType(), 0)});
  return success(!g.failed());
}
