//===- ShapeGrad.cpp - gradient rules of data-movement ops ----------------===//

#include "gpipe/Dialect/GPipeOps.h"
#include "gpipe/Dialect/GradientBuilder.h"

using namespace mlir;
using namespace mlir::gpipe;

namespace {
RankedTensorType typeOf(Value v) { return cast<RankedTensorType>(v.getType()); }

/// Ops that only reinterpret the shape: the gradient is reshaped back.
LogicalResult reshapeRule(Operation *op, GradientBuilder &g, ArrayRef<Value> resultGrads,
                          SmallVectorImpl<Value> &operandGrads) {
  operandGrads.assign(1, Value());
  if (Value dy = resultGrads[0])
    operandGrads[0] = g.reshape(dy, typeOf(op->getOperand(0)).getShape());
  return success(!g.failed());
}
} // namespace

LogicalResult ReshapeOp::buildGradients(GradientBuilder &g, ArrayRef<Value> resultGrads,
                                        SmallVectorImpl<Value> &operandGrads) {
  return reshapeRule(*this, g, resultGrads, operandGrads);
}
LogicalResult FlattenOp::buildGradients(GradientBuilder &g, ArrayRef<Value> resultGrads,
                                        SmallVectorImpl<Value> &operandGrads) {
  return reshapeRule(*this, g, resultGrads, operandGrads);
}
LogicalResult SqueezeOp::buildGradients(GradientBuilder &g, ArrayRef<Value> resultGrads,
                                        SmallVectorImpl<Value> &operandGrads) {
  return reshapeRule(*this, g, resultGrads, operandGrads);
}
LogicalResult UnsqueezeOp::buildGradients(GradientBuilder &g, ArrayRef<Value> resultGrads,
                                          SmallVectorImpl<Value> &operandGrads) {
  return reshapeRule(*this, g, resultGrads, operandGrads);
}

LogicalResult TransposeOp::buildGradients(GradientBuilder &g, ArrayRef<Value> resultGrads,
                                          SmallVectorImpl<Value> &operandGrads) {
  operandGrads.assign(1, Value());
  Value dy = resultGrads[0];
  if (!dy)
    return success();
  ArrayRef<int64_t> perm = getPerm();
  SmallVector<int64_t> inverse(perm.size());
  for (size_t i = 0; i < perm.size(); ++i)
    inverse[perm[i]] = i;
  operandGrads[0] = g.make<TransposeOp>(dy, {g.named("perm", g.i64Array(inverse))});
  return success(!g.failed());
}

LogicalResult ConcatOp::buildGradients(GradientBuilder &g, ArrayRef<Value> resultGrads,
                                       SmallVectorImpl<Value> &operandGrads) {
  operandGrads.assign(getNumOperands(), Value());
  Value dy = resultGrads[0];
  if (!dy)
    return success();
  auto out = typeOf(dy);
  int64_t axis = getAxis(), offset = 0;
  for (auto [i, input] : llvm::enumerate(getInputs())) {
    SmallVector<int64_t> starts(out.getRank(), 0), ends(out.getShape()), steps(out.getRank(), 1);
    int64_t size = typeOf(input).getDimSize(axis);
    starts[axis] = offset;
    ends[axis] = offset + size;
    offset += size;
    operandGrads[i] = g.make<SliceOp>(dy, {g.named("starts", g.i64Array(starts)),
                                           g.named("ends", g.i64Array(ends)),
                                           g.named("steps", g.i64Array(steps))});
  }
  return success(!g.failed());
}

LogicalResult SplitOp::buildGradients(GradientBuilder &g, ArrayRef<Value> resultGrads,
                                      SmallVectorImpl<Value> &operandGrads) {
  operandGrads.assign(1, Value());
  // Pieces that got no gradient contribute zeros.
  SmallVector<Value> pieces;
  bool any = false;
  for (auto [result, dy] : llvm::zip(getOutputs(), resultGrads)) {
    any |= bool(dy);
    pieces.push_back(dy ? dy : g.splat(typeOf(result), 0));
  }
  if (any)
    operandGrads[0] = g.make<ConcatOp>(pieces, {g.named("axis", getAxisAttr())});
  return success(!g.failed());
}

LogicalResult SliceOp::buildGradients(GradientBuilder &g, ArrayRef<Value> resultGrads,
                                      SmallVectorImpl<Value> &operandGrads) {
  operandGrads.assign(1, Value());
  if (Value dy = resultGrads[0])
    operandGrads[0] = g.make<SliceGradOp>(
        dy, {g.named("starts", getStartsAttr()), g.named("steps", getStepsAttr()),
             g.named("input_shape", g.i64Array(typeOf(getInput()).getShape()))});
  return success(!g.failed());
}

LogicalResult ExpandOp::buildGradients(GradientBuilder &g, ArrayRef<Value> resultGrads,
                                       SmallVectorImpl<Value> &operandGrads) {
  operandGrads.assign(1, Value());
  if (Value dy = resultGrads[0])
    operandGrads[0] = g.unbroadcast(dy, getInput().getType());
  return success(!g.failed());
}

LogicalResult GatherOp::buildGradients(GradientBuilder &g, ArrayRef<Value> resultGrads,
                                       SmallVectorImpl<Value> &operandGrads) {
  operandGrads.assign(2, Value());
  Value dy = resultGrads[0];
  if (!dy || !isa<FloatType>(typeOf(getData()).getElementType()))
    return success();
  operandGrads[0] = g.make<GatherGradOp>(
      {dy, getIndices()}, {g.named("axis", getAxisAttr()),
                           g.named("data_shape", g.i64Array(typeOf(getData()).getShape()))});
  return success(!g.failed());
}
