//===- ShapeHandlers.cpp - ONNX data-movement ops to gpipe ----------------===//

#include "ImporterImpl.h"

#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace mlir::gpipe;
using namespace mlir::gpipe::import;

FailureOr<SliceBounds> mlir::gpipe::import::resolveSlice(NodeContext &ctx,
                                                         ArrayRef<int64_t> shape) {
  int64_t rank = shape.size();
  auto starts = ctx.constInts(1, "starts");
  auto ends = ctx.constInts(2, "ends");
  if (failed(starts) || failed(ends))
    return failure();
  SmallVector<int64_t> axes, steps;
  if (ctx.hasInput(3)) {
    auto a = ctx.constInts(3, "axes");
    if (failed(a))
      return failure();
    axes = *a;
  } else {
    for (int64_t i = 0; i < (int64_t)starts->size(); ++i)
      axes.push_back(i);
  }
  if (ctx.hasInput(4)) {
    auto s = ctx.constInts(4, "steps");
    if (failed(s))
      return failure();
    steps = *s;
  } else {
    steps.assign(starts->size(), 1);
  }
  if (ends->size() != starts->size() || axes.size() != starts->size() ||
      steps.size() != starts->size())
    return ctx.fail("starts, ends, axes and steps differ in length");
  SliceBounds b;
  b.starts.assign(rank, 0);
  b.ends.assign(shape.begin(), shape.end());
  b.steps.assign(rank, 1);
  SmallVector<bool> seen(rank, false);
  for (size_t i = 0; i < axes.size(); ++i) {
    auto axis = ctx.normalizeAxis(axes[i], rank, "slice axis");
    if (failed(axis))
      return failure();
    if (seen[*axis])
      return ctx.fail("slice axes repeat");
    seen[*axis] = true;
    int64_t dim = shape[*axis], step = steps[i];
    if (step == 0)
      return ctx.fail("slice step is 0");
    int64_t s = (*starts)[i], e = (*ends)[i];
    // INT64 extremes mean "to the end"; keep the arithmetic from overflowing.
    s = std::clamp<int64_t>(s, -dim - 1, dim + 1);
    e = std::clamp<int64_t>(e, -dim - 1, dim + 1);
    if (s < 0)
      s += dim;
    if (e < 0)
      e += dim;
    if (step > 0) {
      s = std::clamp<int64_t>(s, 0, dim);
      e = std::clamp<int64_t>(e, 0, dim);
    } else {
      s = std::clamp<int64_t>(s, 0, std::max<int64_t>(dim - 1, 0));
      e = std::clamp<int64_t>(e, -1, std::max<int64_t>(dim - 1, -1));
    }
    b.starts[*axis] = s;
    b.ends[*axis] = e;
    b.steps[*axis] = step;
  }
  return b;
}

FailureOr<SmallVector<int64_t>>
mlir::gpipe::import::resolveReshape(NodeContext &ctx, ArrayRef<int64_t> shape) {
  auto target = ctx.constInts(1, "shape");
  if (failed(target))
    return failure();
  bool allowZero = ctx.attrInt("allowzero", 0) != 0;
  SmallVector<int64_t> out(*target);
  int64_t known = 1, inferred = -1, total = 1;
  for (int64_t d : shape)
    total *= d;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == 0 && !allowZero) {
      if (i >= shape.size())
        return ctx.fail("shape has a 0 beyond the input's rank");
      out[i] = shape[i];
    }
    if (out[i] == -1) {
      if (inferred >= 0)
        return ctx.fail("shape has more than one -1");
      inferred = i;
      continue;
    }
    if (out[i] < 0)
      return ctx.fail(llvm::formatv("shape has invalid dimension {0}", out[i]).str());
    known *= out[i];
  }
  if (inferred >= 0) {
    if (known == 0 || total % known != 0)
      return ctx.fail(llvm::formatv("cannot infer the -1 dimension: {0} elements "
                                    "into blocks of {1}",
                                    total, known)
                          .str());
    out[inferred] = total / known;
    known *= out[inferred];
  }
  if (known != total)
    return ctx.fail(llvm::formatv("cannot reshape {0} elements to {1}", total, known).str());
  return out;
}

SmallVector<int64_t> mlir::gpipe::import::resolvePerm(NodeContext &ctx,
                                                     int64_t rank) {
  if (auto p = ctx.attrInts("perm"))
    return *p;
  SmallVector<int64_t> perm;
  for (int64_t i = rank - 1; i >= 0; --i)
    perm.push_back(i);
  return perm;
}

FailureOr<SmallVector<int64_t>>
mlir::gpipe::import::resolveUnsqueeze(NodeContext &ctx, int64_t rank) {
  auto axes = ctx.constInts(1, "axes");
  if (failed(axes))
    return failure();
  int64_t outRank = rank + axes->size();
  for (int64_t &a : *axes) {
    auto n = ctx.normalizeAxis(a, outRank, "unsqueeze axis");
    if (failed(n))
      return failure();
    a = *n;
  }
  llvm::sort(*axes);
  if (std::adjacent_find(axes->begin(), axes->end()) != axes->end())
    return ctx.fail("unsqueeze axes repeat");
  return *axes;
}

FailureOr<SmallVector<int64_t>>
mlir::gpipe::import::resolveSqueeze(NodeContext &ctx, ArrayRef<int64_t> shape) {
  SmallVector<int64_t> axes;
  int64_t rank = shape.size();
  if (!ctx.hasInput(1)) {
    for (int64_t d = 0; d < rank; ++d)
      if (shape[d] == 1)
        axes.push_back(d);
    return axes;
  }
  auto a = ctx.constInts(1, "axes");
  if (failed(a))
    return failure();
  for (int64_t v : *a) {
    auto n = ctx.normalizeAxis(v, rank, "squeeze axis");
    if (failed(n))
      return failure();
    if (shape[*n] != 1)
      return ctx.fail(llvm::formatv("cannot squeeze dimension {0} of size {1}",
                                    *n, shape[*n])
                          .str());
    axes.push_back(*n);
  }
  llvm::sort(axes);
  if (std::adjacent_find(axes.begin(), axes.end()) != axes.end())
    return ctx.fail("squeeze axes repeat");
  return axes;
}

namespace {
ArrayRef<int64_t> shapeOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getShape();
}

LogicalResult convertReshape(NodeContext &ctx) {
  auto x = ctx.input(0);
  if (failed(x))
    return failure();
  auto shape = resolveReshape(ctx, shapeOf(*x));
  if (failed(shape))
    return failure();
  if (*shape == SmallVector<int64_t>(shapeOf(*x))) {
    ctx.setOutput(0, *x);
    return success();
  }
  return ctx.setResult(ctx.create1<ReshapeOp>(
                            *x, {ctx.named("shape", ctx.i64Array(*shape))}));
}

LogicalResult convertFlatten(NodeContext &ctx) {
  auto x = ctx.input(0);
  if (failed(x))
    return failure();
  int64_t rank = shapeOf(*x).size();
  int64_t axis = ctx.attrInt("axis", 1);
  if (axis < -rank || axis > rank)
    return ctx.fail(llvm::formatv("axis {0} is out of range for rank {1}", axis, rank).str());
  if (axis < 0)
    axis += rank;
  return ctx.setResult(ctx.create1<FlattenOp>(
                            *x, {ctx.named("axis", ctx.builder().getI64IntegerAttr(axis))}));
}

LogicalResult convertTranspose(NodeContext &ctx) {
  auto x = ctx.input(0);
  if (failed(x))
    return failure();
  int64_t rank = shapeOf(*x).size();
  SmallVector<int64_t> perm = resolvePerm(ctx, rank);
  return ctx.setResult(ctx.create1<TransposeOp>(
                            *x, {ctx.named("perm", ctx.i64Array(perm))}));
}

LogicalResult convertSqueeze(NodeContext &ctx) {
  auto x = ctx.input(0);
  if (failed(x))
    return failure();
  auto axes = resolveSqueeze(ctx, shapeOf(*x));
  if (failed(axes))
    return failure();
  return ctx.setResult(ctx.create1<SqueezeOp>(
                            *x, {ctx.named("axes", ctx.i64Array(*axes))}));
}

LogicalResult convertUnsqueeze(NodeContext &ctx) {
  auto x = ctx.input(0);
  if (failed(x))
    return failure();
  auto axes = resolveUnsqueeze(ctx, shapeOf(*x).size());
  if (failed(axes))
    return failure();
  return ctx.setResult(ctx.create1<UnsqueezeOp>(
                            *x, {ctx.named("axes", ctx.i64Array(*axes))}));
}

LogicalResult convertConcat(NodeContext &ctx) {
  SmallVector<Value> inputs;
  for (int i = 0; i < ctx.numInputs(); ++i) {
    auto v = ctx.input(i);
    if (failed(v))
      return failure();
    inputs.push_back(*v);
  }
  if (inputs.empty())
    return ctx.fail("Concat needs at least one input");
  auto axis = ctx.normalizeAxis(ctx.attrInt("axis", 0), shapeOf(inputs[0]).size());
  if (failed(axis))
    return failure();
  return ctx.setResult(ctx.create1<ConcatOp>(
                            inputs, {ctx.named("axis", ctx.builder().getI64IntegerAttr(*axis))}));
}

LogicalResult convertSplit(NodeContext &ctx) {
  auto x = ctx.input(0);
  if (failed(x))
    return failure();
  auto shape = shapeOf(*x);
  auto axis = ctx.normalizeAxis(ctx.attrInt("axis", 0), shape.size());
  if (failed(axis))
    return failure();
  SmallVector<int64_t> sizes;
  int64_t n = ctx.numOutputs();
  if (ctx.hasInput(1)) {
    auto s = ctx.constInts(1, "split");
    if (failed(s))
      return failure();
    sizes = *s;
  } else {
    if (shape[*axis] % n != 0)
      return ctx.fail(llvm::formatv("dimension {0} of size {1} does not split "
                                    "evenly into {2} outputs",
                                    *axis, shape[*axis], n)
                          .str());
    sizes.assign(n, shape[*axis] / n);
  }
  if ((int64_t)sizes.size() != n)
    return ctx.fail(llvm::formatv("split has {0} sizes for {1} outputs", sizes.size(), n).str());
  auto op = ctx.create(SplitOp::getOperationName(), *x,
                       {ctx.named("axis", ctx.builder().getI64IntegerAttr(*axis)),
                        ctx.named("sizes", ctx.i64Array(sizes))},
                       n);
  if (failed(op))
    return failure();
  for (int i = 0; i < n; ++i)
    ctx.setOutput(i, (*op)->getResult(i));
  return success();
}

LogicalResult convertSlice(NodeContext &ctx) {
  auto x = ctx.input(0);
  if (failed(x))
    return failure();
  auto b = resolveSlice(ctx, shapeOf(*x));
  if (failed(b))
    return failure();
  return ctx.setResult(ctx.create1<SliceOp>(
                            *x, {ctx.named("starts", ctx.i64Array(b->starts)),
                                 ctx.named("ends", ctx.i64Array(b->ends)),
                                 ctx.named("steps", ctx.i64Array(b->steps))}));
}

LogicalResult convertExpand(NodeContext &ctx) {
  auto x = ctx.input(0);
  if (failed(x))
    return failure();
  auto shape = ctx.constInts(1, "shape");
  if (failed(shape))
    return failure();
  return ctx.setResult(ctx.create1<ExpandOp>(
                            *x, {ctx.named("shape", ctx.i64Array(*shape))}));
}

LogicalResult convertGather(NodeContext &ctx) {
  auto data = ctx.input(0), indices = ctx.input(1);
  if (failed(data) || failed(indices))
    return failure();
  auto axis = ctx.normalizeAxis(ctx.attrInt("axis", 0), shapeOf(*data).size());
  if (failed(axis))
    return failure();
  return ctx.setResult(ctx.create1<GatherOp>(
                            ValueRange{*data, *indices},
                            {ctx.named("axis", ctx.builder().getI64IntegerAttr(*axis))}));
}

/// Trilu: the upper (or lower) triangle of the last two dimensions, as a
/// select between the input and zero under a mask known at import time.
LogicalResult convertTrilu(NodeContext &ctx) {
  auto x = ctx.input(0);
  if (failed(x))
    return failure();
  auto type = cast<RankedTensorType>(x->getType());
  if (type.getRank() < 2)
    return ctx.fail("Trilu needs an input of rank >= 2");
  int64_t k = 0;
  if (ctx.hasInput(1)) {
    auto kv = ctx.constInts(1, "k");
    if (failed(kv))
      return failure();
    if (kv->size() != 1)
      return ctx.fail("input 'k' must hold one value");
    k = kv->front();
  }
  bool upper = ctx.attrInt("upper", 1) != 0;
  int64_t rows = type.getDimSize(type.getRank() - 2), cols = type.getDimSize(type.getRank() - 1);
  SmallVector<bool> keep;
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      keep.push_back(upper ? j - i >= k : j - i <= k);
  auto maskType = RankedTensorType::get({rows, cols}, ctx.builder().getI1Type());
  Value mask = ConstantOp::create(ctx.builder(), ctx.loc,
                                  cast<ElementsAttr>(DenseElementsAttr::get(maskType, ArrayRef<bool>(keep))));
  Value zero = ctx.scalarConstant(type.getElementType(), 0);
  return ctx.setResult(ctx.create1<WhereOp>(ValueRange{mask, *x, zero}));
}

/// Ops that only ever fold (their result is known at import time); reaching a
/// handler means an input was not known.
LogicalResult convertFoldOnly(NodeContext &ctx) {
  return ctx.fail("op '" + ctx.node.op_type() +
                  "' needs inputs known at import time (dynamic values are "
                  "not supported)");
}
} // namespace

void mlir::gpipe::import::registerShapeHandlers(HandlerTable &t) {
  t["Reshape"] = convertReshape;
  t["Flatten"] = convertFlatten;
  t["Transpose"] = convertTranspose;
  t["Squeeze"] = convertSqueeze;
  t["Unsqueeze"] = convertUnsqueeze;
  t["Concat"] = convertConcat;
  t["Split"] = convertSplit;
  t["Slice"] = convertSlice;
  t["Expand"] = convertExpand;
  t["Gather"] = convertGather;
  t["Trilu"] = convertTrilu;
  for (const char *op : {"Constant", "Shape", "Size", "ConstantOfShape", "Range"})
    t[op] = convertFoldOnly;
}
