//===- GradientOps.cpp - shape functions of the backward ops --------------===//

#include "gpipe/Dialect/GPipeOps.h"
#include "ShapeUtils.h"

using namespace mlir;
using namespace mlir::gpipe;
using shape::inferError;
using shape::shapeString;

namespace {
RankedTensorType typeOf(Value v) { return cast<RankedTensorType>(v.getType()); }

/// Checks that a forward 2-D window op over `input` gives `output`'s
/// spatial sizes (the floor formula, or one more with ceil-mode rounding).
LogicalResult checkWindow(std::optional<Location> loc, StringRef name,
                          ArrayRef<int64_t> input, ArrayRef<int64_t> output,
                          ArrayRef<int64_t> kernel, ArrayRef<int64_t> strides,
                          ArrayRef<int64_t> pads, ArrayRef<int64_t> dilations) {
  if (input.size() != 4 || output.size() != 4 || kernel.size() != 2 || strides.size() != 2 ||
      pads.size() != 4 || dilations.size() != 2)
    return inferError(loc, name, "expects NCHW tensors, 2 kernel sizes, strides and "
                                 "dilations and 4 pads");
  for (int i = 0; i < 2; ++i) {
    if (strides[i] < 1 || kernel[i] < 1 || dilations[i] < 1)
      return inferError(loc, name, "kernel sizes, strides and dilations must be >= 1");
    int64_t span = dilations[i] * (kernel[i] - 1) + 1;
    int64_t num = input[2 + i] + pads[i] + pads[i + 2] - span;
    int64_t lo = num < 0 ? -1 : num / strides[i] + 1;
    if (output[2 + i] != lo && output[2 + i] != lo + 1)
      return inferError(loc, name, "gradient shape ", shapeString(output),
                        " does not match the forward window over ", shapeString(input));
  }
  return success();
}
} // namespace

LogicalResult ConvGradInputOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                                Adaptor adaptor,
                                                SmallVectorImpl<Type> &results) {
  auto grad = typeOf(adaptor.getGrad()), weight = typeOf(adaptor.getWeight());
  ArrayRef<int64_t> in = adaptor.getInputShape();
  if (weight.getRank() != 4 || in.size() != 4 || grad.getRank() != 4)
    return inferError(loc, getOperationName(), "expects rank-4 grad, weight and input_shape");
  int64_t groups = adaptor.getGroups();
  if (groups < 1 || grad.getDimSize(0) != in[0] || grad.getDimSize(1) != weight.getDimSize(0) ||
      weight.getDimSize(1) * groups != in[1])
    return inferError(loc, getOperationName(), "channels of grad ", shapeString(grad.getShape()),
                      ", weight ", shapeString(weight.getShape()), " and input ",
                      shapeString(in), " do not agree");
  if (failed(checkWindow(loc, getOperationName(), in, grad.getShape(),
                         weight.getShape().drop_front(2), adaptor.getStrides(),
                         adaptor.getPads(), adaptor.getDilations())))
    return failure();
  results.push_back(RankedTensorType::get(in, grad.getElementType()));
  return success();
}

LogicalResult ConvGradWeightOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                                 Adaptor adaptor,
                                                 SmallVectorImpl<Type> &results) {
  auto grad = typeOf(adaptor.getGrad()), input = typeOf(adaptor.getInput());
  ArrayRef<int64_t> w = adaptor.getWeightShape();
  if (w.size() != 4 || input.getRank() != 4 || grad.getRank() != 4)
    return inferError(loc, getOperationName(), "expects rank-4 grad, input and weight_shape");
  int64_t groups = adaptor.getGroups();
  if (groups < 1 || grad.getDimSize(1) != w[0] || w[1] * groups != input.getDimSize(1) ||
      grad.getDimSize(0) != input.getDimSize(0))
    return inferError(loc, getOperationName(), "channels of grad ", shapeString(grad.getShape()),
                      ", input ", shapeString(input.getShape()), " and weight ",
                      shapeString(w), " do not agree");
  if (failed(checkWindow(loc, getOperationName(), input.getShape(), grad.getShape(),
                         w.drop_front(2), adaptor.getStrides(), adaptor.getPads(),
                         adaptor.getDilations())))
    return failure();
  results.push_back(RankedTensorType::get(w, grad.getElementType()));
  return success();
}

LogicalResult MaxPoolGradOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                              Adaptor adaptor, SmallVectorImpl<Type> &results) {
  auto grad = typeOf(adaptor.getGrad()), input = typeOf(adaptor.getInput());
  if (grad.getRank() == 4 && input.getRank() == 4 &&
      (grad.getDimSize(0) != input.getDimSize(0) || grad.getDimSize(1) != input.getDimSize(1)))
    return inferError(loc, getOperationName(), "grad ", shapeString(grad.getShape()),
                      " and input ", shapeString(input.getShape()), " differ in N or C");
  if (failed(checkWindow(loc, getOperationName(), input.getShape(), grad.getShape(),
                         adaptor.getKernel(), adaptor.getStrides(), adaptor.getPads(),
                         adaptor.getDilations())))
    return failure();
  results.push_back(input);
  return success();
}

LogicalResult AvgPoolGradOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                              Adaptor adaptor, SmallVectorImpl<Type> &results) {
  auto grad = typeOf(adaptor.getGrad());
  ArrayRef<int64_t> in = adaptor.getInputShape();
  int64_t ones[2] = {1, 1};
  if (grad.getRank() == 4 && in.size() == 4 &&
      (grad.getDimSize(0) != in[0] || grad.getDimSize(1) != in[1]))
    return inferError(loc, getOperationName(), "grad ", shapeString(grad.getShape()),
                      " and input_shape ", shapeString(in), " differ in N or C");
  if (failed(checkWindow(loc, getOperationName(), in, grad.getShape(), adaptor.getKernel(),
                         adaptor.getStrides(), adaptor.getPads(), ones)))
    return failure();
  results.push_back(RankedTensorType::get(in, grad.getElementType()));
  return success();
}

/// The normalization gradients: (input, scale, scale) types after checking
/// that grad has the input's type and scale the per-feature shape.
static LogicalResult inferNormGrad(std::optional<Location> loc, StringRef name, Value gradV,
                                   Value inputV, Value scaleV, ArrayRef<int64_t> featureShape,
                                   SmallVectorImpl<Type> &results) {
  auto grad = typeOf(gradV), input = typeOf(inputV), scale = typeOf(scaleV);
  if (grad != input)
    return inferError(loc, name, "grad ", shapeString(grad.getShape()),
                      " must have the input's type ", shapeString(input.getShape()));
  if (scale.getShape() != featureShape)
    return inferError(loc, name, "scale must have shape ", shapeString(featureShape), ", got ",
                      shapeString(scale.getShape()));
  results.append({input, scale, scale});
  return success();
}

LogicalResult BatchNormTrainGradOp::inferReturnTypes(MLIRContext *,
                                                     std::optional<Location> loc,
                                                     Adaptor adaptor,
                                                     SmallVectorImpl<Type> &results) {
  auto input = typeOf(adaptor.getInput());
  if (input.getRank() < 2)
    return inferError(loc, getOperationName(), "expects an input of rank >= 2");
  return inferNormGrad(loc, getOperationName(), adaptor.getGrad(), adaptor.getInput(),
                       adaptor.getScale(), {input.getDimSize(1)}, results);
}

LogicalResult LayerNormGradOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                                Adaptor adaptor,
                                                SmallVectorImpl<Type> &results) {
  auto input = typeOf(adaptor.getInput());
  int64_t axis = adaptor.getAxis();
  if (axis < 0 || axis >= input.getRank())
    return inferError(loc, getOperationName(), "axis ", axis, " is out of range for rank ",
                      input.getRank());
  return inferNormGrad(loc, getOperationName(), adaptor.getGrad(), adaptor.getInput(),
                       adaptor.getScale(), input.getShape().drop_front(axis), results);
}

LogicalResult NllLossGradOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                              Adaptor adaptor, SmallVectorImpl<Type> &results) {
  auto grad = typeOf(adaptor.getGrad()), labels = typeOf(adaptor.getLabels());
  ArrayRef<int64_t> in = adaptor.getInputShape();
  if (in.size() < 2)
    return inferError(loc, getOperationName(), "input_shape must have rank >= 2");
  SmallVector<int64_t> expected{in[0]};
  llvm::append_range(expected, in.drop_front(2));
  if (labels.getShape() != ArrayRef<int64_t>(expected))
    return inferError(loc, getOperationName(), "labels must have shape ", shapeString(expected),
                      ", got ", shapeString(labels.getShape()));
  bool none = adaptor.getReduction() == LossReduction::None;
  if (none ? grad.getShape() != ArrayRef<int64_t>(expected) : grad.getRank() != 0)
    return inferError(loc, getOperationName(), "grad has shape ", shapeString(grad.getShape()),
                      ", expected ", none ? shapeString(expected) : std::string("[]"));
  results.push_back(RankedTensorType::get(in, grad.getElementType()));
  return success();
}

LogicalResult GatherGradOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                             Adaptor adaptor, SmallVectorImpl<Type> &results) {
  auto grad = typeOf(adaptor.getGrad()), indices = typeOf(adaptor.getIndices());
  ArrayRef<int64_t> data = adaptor.getDataShape();
  int64_t axis = adaptor.getAxis();
  if (axis < 0 || axis >= (int64_t)data.size())
    return inferError(loc, getOperationName(), "axis ", axis, " is out of range for rank ",
                      data.size());
  SmallVector<int64_t> expected(data.take_front(axis));
  llvm::append_range(expected, indices.getShape());
  llvm::append_range(expected, data.drop_front(axis + 1));
  if (grad.getShape() != ArrayRef<int64_t>(expected))
    return inferError(loc, getOperationName(), "grad must have shape ", shapeString(expected),
                      ", got ", shapeString(grad.getShape()));
  results.push_back(RankedTensorType::get(data, grad.getElementType()));
  return success();
}

LogicalResult SliceGradOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                            Adaptor adaptor, SmallVectorImpl<Type> &results) {
  auto grad = typeOf(adaptor.getGrad());
  ArrayRef<int64_t> in = adaptor.getInputShape(), starts = adaptor.getStarts(),
                    steps = adaptor.getSteps();
  int64_t rank = grad.getRank();
  if ((int64_t)in.size() != rank || (int64_t)starts.size() != rank ||
      (int64_t)steps.size() != rank)
    return inferError(loc, getOperationName(),
                      "starts, steps and input_shape need one entry per dimension (", rank, ")");
  for (int64_t d = 0; d < rank; ++d) {
    int64_t n = grad.getDimSize(d);
    if (n == 0)
      continue;
    int64_t last = starts[d] + (n - 1) * steps[d];
    if (steps[d] == 0 || starts[d] < 0 || starts[d] >= in[d] || last < 0 || last >= in[d])
      return inferError(loc, getOperationName(), "dimension ", d, " writes outside ",
                        shapeString(in));
  }
  results.push_back(RankedTensorType::get(in, grad.getElementType()));
  return success();
}
