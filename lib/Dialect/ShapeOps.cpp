//===- ShapeOps.cpp - shape functions of data-movement ops ----------------===//

#include "gpipe/Dialect/GPipeOps.h"
#include "ShapeUtils.h"

using namespace mlir;
using namespace mlir::gpipe;
using shape::inferError;
using shape::shapeString;

static RankedTensorType inputType(Value v) {
  return cast<RankedTensorType>(v.getType());
}

LogicalResult ConstantOp::inferReturnTypes(MLIRContext *,
                                           std::optional<Location> loc,
                                           Adaptor adaptor,
                                           SmallVectorImpl<Type> &results) {
  auto type = dyn_cast<RankedTensorType>(adaptor.getValue().getType());
  if (!type)
    return inferError(loc, getOperationName(), "value must be a ranked tensor");
  results.push_back(type);
  return success();
}

OpFoldResult ConstantOp::fold(FoldAdaptor) { return getValue(); }

LogicalResult ReshapeOp::inferReturnTypes(MLIRContext *,
                                          std::optional<Location> loc,
                                          Adaptor adaptor,
                                          SmallVectorImpl<Type> &results) {
  auto in = inputType(adaptor.getInput());
  ArrayRef<int64_t> shape = adaptor.getShape();
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0)
      return inferError(loc, getOperationName(), "shape ", shapeString(shape),
                        " has a negative dimension");
    n *= d;
  }
  if (n != in.getNumElements())
    return inferError(loc, getOperationName(), "cannot reshape ",
                      shapeString(in.getShape()), " (", in.getNumElements(),
                      " elements) to ", shapeString(shape), " (", n,
                      " elements)");
  results.push_back(in.clone(shape));
  return success();
}

LogicalResult FlattenOp::inferReturnTypes(MLIRContext *,
                                          std::optional<Location> loc,
                                          Adaptor adaptor,
                                          SmallVectorImpl<Type> &results) {
  auto in = inputType(adaptor.getInput());
  int64_t axis = adaptor.getAxis();
  if (axis < 0 || axis > in.getRank())
    return inferError(loc, getOperationName(), "axis ", axis,
                      " is out of range [0, ", in.getRank(), "]");
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < in.getRank(); ++d)
    (d < axis ? outer : inner) *= in.getDimSize(d);
  results.push_back(in.clone({outer, inner}));
  return success();
}

LogicalResult TransposeOp::inferReturnTypes(MLIRContext *,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &results) {
  auto in = inputType(adaptor.getInput());
  ArrayRef<int64_t> perm = adaptor.getPerm();
  SmallVector<bool> seen(in.getRank(), false);
  if ((int64_t)perm.size() != in.getRank())
    return inferError(loc, getOperationName(), "perm has ", perm.size(),
                      " entries for rank ", in.getRank());
  SmallVector<int64_t> shape;
  for (int64_t p : perm) {
    if (p < 0 || p >= in.getRank() || seen[p])
      return inferError(loc, getOperationName(), "perm ", shapeString(perm),
                        " is not a permutation");
    seen[p] = true;
    shape.push_back(in.getDimSize(p));
  }
  results.push_back(in.clone(shape));
  return success();
}

LogicalResult SqueezeOp::inferReturnTypes(MLIRContext *,
                                          std::optional<Location> loc,
                                          Adaptor adaptor,
                                          SmallVectorImpl<Type> &results) {
  auto in = inputType(adaptor.getInput());
  ArrayRef<int64_t> axes = adaptor.getAxes();
  if (!shape::isSortedUniqueInRange(axes, in.getRank()))
    return inferError(loc, getOperationName(),
                      "axes must be sorted, unique and in [0, ", in.getRank(),
                      ")");
  SmallVector<int64_t> shape;
  for (int64_t d = 0; d < in.getRank(); ++d) {
    if (!llvm::is_contained(axes, d)) {
      shape.push_back(in.getDimSize(d));
      continue;
    }
    if (in.getDimSize(d) != 1)
      return inferError(loc, getOperationName(), "cannot squeeze dimension ", d,
                        " of size ", in.getDimSize(d));
  }
  results.push_back(in.clone(shape));
  return success();
}

LogicalResult UnsqueezeOp::inferReturnTypes(MLIRContext *,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &results) {
  auto in = inputType(adaptor.getInput());
  ArrayRef<int64_t> axes = adaptor.getAxes();
  int64_t rank = in.getRank() + axes.size();
  if (!shape::isSortedUniqueInRange(axes, rank))
    return inferError(loc, getOperationName(),
                      "axes must be sorted, unique and in [0, ", rank, ")");
  SmallVector<int64_t> shape;
  for (int64_t d = 0, src = 0; d < rank; ++d)
    shape.push_back(llvm::is_contained(axes, d) ? 1 : in.getDimSize(src++));
  results.push_back(in.clone(shape));
  return success();
}

LogicalResult ConcatOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &results) {
  if (adaptor.getInputs().empty())
    return inferError(loc, getOperationName(), "needs at least one input");
  auto first = inputType(adaptor.getInputs().front());
  int64_t axis = adaptor.getAxis();
  if (axis < 0 || axis >= first.getRank())
    return inferError(loc, getOperationName(), "axis ", axis,
                      " is out of range for rank ", first.getRank());
  SmallVector<int64_t> shape(first.getShape());
  shape[axis] = 0;
  for (Value v : adaptor.getInputs()) {
    auto t = inputType(v);
    bool same = t.getRank() == first.getRank();
    for (int64_t d = 0; same && d < t.getRank(); ++d)
      same = d == axis || t.getDimSize(d) == first.getDimSize(d);
    if (!same)
      return inferError(loc, getOperationName(), "input shapes ",
                        shapeString(first.getShape()), " and ",
                        shapeString(t.getShape()), " differ off axis ", axis);
    shape[axis] += t.getDimSize(axis);
  }
  results.push_back(first.clone(shape));
  return success();
}

LogicalResult SplitOp::inferReturnTypes(MLIRContext *,
                                        std::optional<Location> loc,
                                        Adaptor adaptor,
                                        SmallVectorImpl<Type> &results) {
  auto in = inputType(adaptor.getInput());
  int64_t axis = adaptor.getAxis();
  if (axis < 0 || axis >= in.getRank())
    return inferError(loc, getOperationName(), "axis ", axis,
                      " is out of range for rank ", in.getRank());
  int64_t total = 0;
  for (int64_t s : adaptor.getSizes()) {
    if (s < 0)
      return inferError(loc, getOperationName(), "sizes must be >= 0");
    total += s;
  }
  if (adaptor.getSizes().empty() || total != in.getDimSize(axis))
    return inferError(loc, getOperationName(), "sizes ",
                      shapeString(adaptor.getSizes()), " do not add up to ",
                      in.getDimSize(axis));
  for (int64_t s : adaptor.getSizes()) {
    SmallVector<int64_t> shape(in.getShape());
    shape[axis] = s;
    results.push_back(in.clone(shape));
  }
  return success();
}

LogicalResult SliceOp::inferReturnTypes(MLIRContext *,
                                        std::optional<Location> loc,
                                        Adaptor adaptor,
                                        SmallVectorImpl<Type> &results) {
  auto in = inputType(adaptor.getInput());
  ArrayRef<int64_t> starts = adaptor.getStarts(), ends = adaptor.getEnds(),
                    steps = adaptor.getSteps();
  int64_t rank = in.getRank();
  if ((int64_t)starts.size() != rank || (int64_t)ends.size() != rank ||
      (int64_t)steps.size() != rank)
    return inferError(loc, getOperationName(),
                      "starts, ends and steps need one entry per dimension (",
                      rank, ")");
  SmallVector<int64_t> shape;
  for (int64_t d = 0; d < rank; ++d) {
    int64_t dim = in.getDimSize(d), s = starts[d], e = ends[d], st = steps[d];
    if (st == 0)
      return inferError(loc, getOperationName(), "step of dimension ", d,
                        " is 0");
    if (s < 0 || s > dim || e < -1 || e > dim)
      return inferError(loc, getOperationName(), "bounds [", s, ", ", e,
                        ") of dimension ", d, " are not clamped to its size ",
                        dim);
    int64_t n = st > 0 ? (e > s ? (e - s + st - 1) / st : 0)
                       : (s > e && s < dim ? (s - e + (-st) - 1) / (-st) : 0);
    shape.push_back(n);
  }
  results.push_back(in.clone(shape));
  return success();
}

LogicalResult ExpandOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &results) {
  auto in = inputType(adaptor.getInput());
  auto shape = shape::broadcastShapes(in.getShape(), adaptor.getShape());
  if (!shape)
    return inferError(loc, getOperationName(), "cannot expand ",
                      shapeString(in.getShape()), " to ",
                      shapeString(adaptor.getShape()));
  results.push_back(in.clone(*shape));
  return success();
}

LogicalResult GatherOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &results) {
  auto data = inputType(adaptor.getData());
  auto indices = inputType(adaptor.getIndices());
  int64_t axis = adaptor.getAxis();
  if (axis < 0 || axis >= data.getRank())
    return inferError(loc, getOperationName(), "axis ", axis,
                      " is out of range for rank ", data.getRank());
  SmallVector<int64_t> shape(data.getShape().take_front(axis));
  llvm::append_range(shape, indices.getShape());
  llvm::append_range(shape, data.getShape().drop_front(axis + 1));
  results.push_back(data.clone(shape));
  return success();
}
