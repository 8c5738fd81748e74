//===- ReductionGrad.cpp - gradient rules of reductions -------------------===//

#include "gpipe/Dialect/GPipeOps.h"
#include "gpipe/Dialect/GradientBuilder.h"

using namespace mlir;
using namespace mlir::gpipe;

namespace {
RankedTensorType typeOf(Value v) { return cast<RankedTensorType>(v.getType()); }

/// `v` (a reduction's result or its gradient) with the reduced dimensions
/// restored as size 1, then broadcast to the input's shape.
Value spread(GradientBuilder &g, Value v, RankedTensorType input, ArrayRef<int64_t> axes) {
  SmallVector<int64_t> kept;
  for (int64_t d = 0; d < input.getRank(); ++d)
    kept.push_back(axes.empty() || llvm::is_contained(axes, d) ? 1 : input.getDimSize(d));
  return g.make<ExpandOp>(g.reshape(v, kept), {g.named("shape", g.i64Array(input.getShape()))});
}

int64_t reducedCount(RankedTensorType input, ArrayRef<int64_t> axes) {
  int64_t n = 1;
  for (int64_t d = 0; d < input.getRank(); ++d)
    if (axes.empty() || llvm::is_contained(axes, d))
      n *= input.getDimSize(d);
  return n;
}

template <typename OpTy>
LogicalResult extremumRule(OpTy op, GradientBuilder &g, ArrayRef<Value> resultGrads,
                           SmallVectorImpl<Value> &operandGrads) {
  operandGrads.assign(1, Value());
  Value dy = resultGrads[0];
  auto in = typeOf(op.getInput());
  if (!dy || !isa<FloatType>(in.getElementType()))
    return success();
  // Every position that attains the extremum receives the gradient.
  Value hit = g.make<EqualOp>({op.getInput(), spread(g, op.getOutput(), in, op.getAxes())});
  operandGrads[0] = g.make<WhereOp>(
      {hit, spread(g, dy, in, op.getAxes()), g.scalar(in.getElementType(), 0)});
  return success(!g.failed());
}
} // namespace

LogicalResult ReduceSumOp::buildGradients(GradientBuilder &g, ArrayRef<Value> resultGrads,
                                          SmallVectorImpl<Value> &operandGrads) {
  operandGrads.assign(1, Value());
  if (Value dy = resultGrads[0])
    operandGrads[0] = spread(g, dy, typeOf(getInput()), getAxes());
  return success(!g.failed());
}

LogicalResult ReduceMeanOp::buildGradients(GradientBuilder &g, ArrayRef<Value> resultGrads,
                                           SmallVectorImpl<Value> &operandGrads) {
  operandGrads.assign(1, Value());
  Value dy = resultGrads[0];
  if (!dy)
    return success();
  auto in = typeOf(getInput());
  Value scaled = g.div(dy, g.scalar(in.getElementType(), reducedCount(in, getAxes())));
  operandGrads[0] = spread(g, scaled, in, getAxes());
  return success(!g.failed());
}

LogicalResult ReduceMaxOp::buildGradients(GradientBuilder &g, ArrayRef<Value> resultGrads,
                                          SmallVectorImpl<Value> &operandGrads) {
  return extremumRule(*this, g, resultGrads, operandGrads);
}

LogicalResult ReduceMinOp::buildGradients(GradientBuilder &g, ArrayRef<Value> resultGrads,
                                          SmallVectorImpl<Value> &operandGrads) {
  return extremumRule(*this, g, resultGrads, operandGrads);
}
