//===- LossOps.cpp - shape functions of the losses ------------------------===//

#include "gpipe/Dialect/GPipeOps.h"
#include "ShapeUtils.h"

using namespace mlir;
using namespace mlir::gpipe;
using shape::inferError;
using shape::shapeString;

/// Shared by the class-label losses: scores `[N, C, D...]`, labels `[N, D...]`.
static LogicalResult inferClassLoss(std::optional<Location> loc, StringRef name,
                                    Value scores, Value labels, Value weights,
                                    LossReduction reduction,
                                    SmallVectorImpl<Type> &results) {
  auto s = cast<RankedTensorType>(scores.getType());
  auto l = cast<RankedTensorType>(labels.getType());
  if (s.getRank() < 2)
    return inferError(loc, name, "expects scores of rank >= 2, got ",
                      shapeString(s.getShape()));
  SmallVector<int64_t> expected{s.getDimSize(0)};
  llvm::append_range(expected, s.getShape().drop_front(2));
  if (l.getShape() != ArrayRef<int64_t>(expected))
    return inferError(loc, name, "labels must have shape ",
                      shapeString(expected), ", got ", shapeString(l.getShape()));
  if (weights) {
    auto w = cast<RankedTensorType>(weights.getType());
    if (w.getRank() != 1 || w.getDimSize(0) != s.getDimSize(1))
      return inferError(loc, name, "weights must have shape [", s.getDimSize(1),
                        "], got ", shapeString(w.getShape()));
  }
  if (reduction == LossReduction::None)
    results.push_back(RankedTensorType::get(expected, s.getElementType()));
  else
    results.push_back(RankedTensorType::get({}, s.getElementType()));
  return success();
}

LogicalResult SoftmaxCrossEntropyOp::inferReturnTypes(
    MLIRContext *, std::optional<Location> loc, Adaptor adaptor,
    SmallVectorImpl<Type> &results) {
  return inferClassLoss(loc, getOperationName(), adaptor.getScores(),
                        adaptor.getLabels(), adaptor.getWeights(),
                        adaptor.getReduction(), results);
}

LogicalResult NllLossOp::inferReturnTypes(MLIRContext *,
                                          std::optional<Location> loc,
                                          Adaptor adaptor,
                                          SmallVectorImpl<Type> &results) {
  return inferClassLoss(loc, getOperationName(), adaptor.getInput(),
                        adaptor.getLabels(), adaptor.getWeights(),
                        adaptor.getReduction(), results);
}
