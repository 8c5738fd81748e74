//===- LossGrad.cpp - gradient rules of the losses ------------------------===//

#include "gpipe/Dialect/GPipeOps.h"
#include "gpipe/Dialect/GradientBuilder.h"

using namespace mlir;
using namespace mlir::gpipe;

namespace {
/// The gradient of nll_loss with respect to its log-probabilities.
Value nllGrad(GradientBuilder &g, Value dloss, Value input, Value labels, Value weights,
              LossReductionAttr reduction, IntegerAttr ignoreIndex) {
  SmallVector<NamedAttribute> attrs{
      g.named("reduction", reduction),
      g.named("input_shape",
              g.i64Array(cast<RankedTensorType>(input.getType()).getShape()))};
  if (ignoreIndex)
    attrs.push_back(g.named("ignore_index", ignoreIndex));
  SmallVector<Value> operands{dloss, labels};
  if (weights)
    operands.push_back(weights);
  return g.make<NllLossGradOp>(operands, attrs);
}
} // namespace

LogicalResult NllLossOp::buildGradients(GradientBuilder &g, ArrayRef<Value> resultGrads,
                                        SmallVectorImpl<Value> &operandGrads) {
  operandGrads.assign(getNumOperands(), Value());
  if (Value dy = resultGrads[0])
    operandGrads[0] = nllGrad(g, dy, getInput(), getLabels(), getWeights(), getReductionAttr(),
                              getIgnoreIndexAttr());
  return success(!g.failed());
}

LogicalResult SoftmaxCrossEntropyOp::buildGradients(GradientBuilder &g,
                                                    ArrayRef<Value> resultGrads,
                                                    SmallVectorImpl<Value> &operandGrads) {
  operandGrads.assign(getNumOperands(), Value());
  Value dy = resultGrads[0];
  if (!dy)
    return success();
  // loss = nll(log_softmax(scores, 1)): chain the two rules.
  auto axis = g.named("axis", g.builder().getI64IntegerAttr(1));
  Value logProb = g.make<LogSoftmaxOp>(getScores(), {axis});
  Value dlogProb = nllGrad(g, dy, getScores(), getLabels(), getWeights(), getReductionAttr(),
                           getIgnoreIndexAttr());
  Value s = g.reduceSum(dlogProb, {1}, /*keepDims=*/true);
  operandGrads[0] = g.sub(dlogProb, g.mul(g.same<ExpOp>(logProb), s));
  return success(!g.failed());
}
