//===- ConvOps.cpp - shape functions of convolution and pooling -----------===//

#include "gpipe/Dialect/GPipeOps.h"
#include "ShapeUtils.h"

using namespace mlir;
using namespace mlir::gpipe;
using shape::inferError;
using shape::shapeString;

namespace {
/// Spatial window parameters, checked and expanded to two dimensions.
struct Window {
  int64_t kernel[2], stride[2], padBegin[2], padEnd[2], dilation[2];
};

LogicalResult checkWindowAttrs(std::optional<Location> loc, StringRef opName,
                               ArrayRef<int64_t> kernel,
                               ArrayRef<int64_t> strides,
                               ArrayRef<int64_t> pads,
                               ArrayRef<int64_t> dilations, Window &w) {
  if (kernel.size() != 2 || strides.size() != 2 || dilations.size() != 2 ||
      pads.size() != 4)
    return inferError(loc, opName,
                      "expects 2 kernel sizes, strides and dilations and 4 pads");
  for (int i = 0; i < 2; ++i) {
    if (kernel[i] < 1 || strides[i] < 1 || dilations[i] < 1)
      return inferError(loc, opName,
                        "kernel sizes, strides and dilations must be >= 1");
    if (pads[i] < 0 || pads[i + 2] < 0)
      return inferError(loc, opName, "pads must be >= 0");
    w.kernel[i] = kernel[i];
    w.stride[i] = strides[i];
    w.dilation[i] = dilations[i];
    w.padBegin[i] = pads[i];
    w.padEnd[i] = pads[i + 2];
  }
  return success();
}

/// Output spatial sizes of a window sliding over `in`.
LogicalResult windowOutput(std::optional<Location> loc, StringRef opName,
                           ArrayRef<int64_t> in, const Window &w, bool ceilMode,
                           int64_t out[2]) {
  for (int i = 0; i < 2; ++i) {
    int64_t span = w.dilation[i] * (w.kernel[i] - 1) + 1;
    int64_t padded = in[i] + w.padBegin[i] + w.padEnd[i];
    if (padded < span)
      return inferError(loc, opName, "window of ", span,
                        " does not fit the padded input of ", padded,
                        " in spatial dimension ", i);
    int64_t num = padded - span;
    out[i] = (ceilMode ? (num + w.stride[i] - 1) / w.stride[i]
                       : num / w.stride[i]) +
             1;
    // A window that would start inside the end padding is dropped.
    if (ceilMode && (out[i] - 1) * w.stride[i] >= in[i] + w.padBegin[i])
      --out[i];
  }
  return success();
}

LogicalResult checkNCHW(std::optional<Location> loc, StringRef opName,
                        RankedTensorType t) {
  if (t.getRank() != 4)
    return inferError(loc, opName, "expects a rank-4 NCHW input, got ",
                      shapeString(t.getShape()));
  return success();
}
} // namespace

LogicalResult ConvOp::inferReturnTypes(MLIRContext *,
                                       std::optional<Location> loc,
                                       Adaptor adaptor,
                                       SmallVectorImpl<Type> &results) {
  StringRef name = getOperationName();
  auto in = cast<RankedTensorType>(adaptor.getInput().getType());
  auto w = cast<RankedTensorType>(adaptor.getWeight().getType());
  if (failed(checkNCHW(loc, name, in)))
    return failure();
  if (w.getRank() != 4)
    return inferError(loc, name, "expects a rank-4 OIHW weight, got ",
                      shapeString(w.getShape()));
  int64_t groups = adaptor.getGroups();
  int64_t c = in.getDimSize(1), f = w.getDimSize(0);
  if (groups < 1 || c % groups != 0 || f % groups != 0)
    return inferError(loc, name, "groups ", groups,
                      " must divide input channels ", c, " and filters ", f);
  if (w.getDimSize(1) != c / groups)
    return inferError(loc, name, "weight has ", w.getDimSize(1),
                      " input channels per group, expected ", c / groups);
  if (Value bias = adaptor.getBias()) {
    auto b = cast<RankedTensorType>(bias.getType());
    if (b.getRank() != 1 || b.getDimSize(0) != f)
      return inferError(loc, name, "bias must have shape [", f, "], got ",
                        shapeString(b.getShape()));
  }
  Window win;
  if (failed(checkWindowAttrs(loc, name, w.getShape().drop_front(2),
                              adaptor.getStrides(), adaptor.getPads(),
                              adaptor.getDilations(), win)))
    return failure();
  int64_t out[2];
  if (failed(windowOutput(loc, name, in.getShape().drop_front(2), win, false,
                          out)))
    return failure();
  results.push_back(RankedTensorType::get({in.getDimSize(0), f, out[0], out[1]},
                                          in.getElementType()));
  return success();
}

LogicalResult MaxPoolOp::inferReturnTypes(MLIRContext *,
                                          std::optional<Location> loc,
                                          Adaptor adaptor,
                                          SmallVectorImpl<Type> &results) {
  auto in = cast<RankedTensorType>(adaptor.getInput().getType());
  Window win;
  int64_t out[2];
  if (failed(checkNCHW(loc, getOperationName(), in)) ||
      failed(checkWindowAttrs(loc, getOperationName(), adaptor.getKernel(),
                              adaptor.getStrides(), adaptor.getPads(),
                              adaptor.getDilations(), win)) ||
      failed(windowOutput(loc, getOperationName(), in.getShape().drop_front(2),
                          win, adaptor.getCeilMode(), out)))
    return failure();
  results.push_back(RankedTensorType::get(
      {in.getDimSize(0), in.getDimSize(1), out[0], out[1]}, in.getElementType()));
  return success();
}

LogicalResult AvgPoolOp::inferReturnTypes(MLIRContext *,
                                          std::optional<Location> loc,
                                          Adaptor adaptor,
                                          SmallVectorImpl<Type> &results) {
  auto in = cast<RankedTensorType>(adaptor.getInput().getType());
  Window win;
  int64_t out[2];
  int64_t ones[2] = {1, 1};
  if (failed(checkNCHW(loc, getOperationName(), in)) ||
      failed(checkWindowAttrs(loc, getOperationName(), adaptor.getKernel(),
                              adaptor.getStrides(), adaptor.getPads(), ones,
                              win)) ||
      failed(windowOutput(loc, getOperationName(), in.getShape().drop_front(2),
                          win, adaptor.getCeilMode(), out)))
    return failure();
  results.push_back(RankedTensorType::get(
      {in.getDimSize(0), in.getDimSize(1), out[0], out[1]}, in.getElementType()));
  return success();
}

static LogicalResult inferGlobalPool(std::optional<Location> loc,
                                     StringRef name, Value input,
                                     SmallVectorImpl<Type> &results) {
  auto in = cast<RankedTensorType>(input.getType());
  if (failed(checkNCHW(loc, name, in)))
    return failure();
  results.push_back(RankedTensorType::get({in.getDimSize(0), in.getDimSize(1), 1, 1},
                                          in.getElementType()));
  return success();
}

LogicalResult GlobalAvgPoolOp::inferReturnTypes(MLIRContext *,
                                                std::optional<Location> loc,
                                                Adaptor adaptor,
                                                SmallVectorImpl<Type> &results) {
  return inferGlobalPool(loc, getOperationName(), adaptor.getInput(), results);
}

LogicalResult GlobalMaxPoolOp::inferReturnTypes(MLIRContext *,
                                                std::optional<Location> loc,
                                                Adaptor adaptor,
                                                SmallVectorImpl<Type> &results) {
  return inferGlobalPool(loc, getOperationName(), adaptor.getInput(), results);
}
