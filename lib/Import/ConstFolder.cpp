//===- ConstFolder.cpp - evaluating shape-computing subgraphs at import ---===//
//
// PyTorch computes reshape targets, position ranges and masks at run time
// with Shape/Gather/Unsqueeze/Concat/Slice/Cast/Range chains. Once every
// dimension is bound those values are constants: this file evaluates them so
// that the IR gets static attributes instead.
//
//===----------------------------------------------------------------------===//

#include "ImporterImpl.h"

#include "llvm/Support/FormatVariadic.h"

#include <cmath>

using namespace mlir;
using namespace mlir::gpipe;
using namespace mlir::gpipe::import;
using TP = onnx::TensorProto;

namespace {
/// Folded results larger than this are left to the IR.
constexpr int64_t kMaxFoldElements = 1 << 20;

SmallVector<int64_t> stridesOf(ArrayRef<int64_t> shape) {
  SmallVector<int64_t> strides(shape.size(), 1);
  for (int64_t i = (int64_t)shape.size() - 2; i >= 0; --i)
    strides[i] = strides[i + 1] * shape[i + 1];
  return strides;
}

/// The flat index into `in` (broadcast to `out`) of output element `flat`.
int64_t broadcastIndex(int64_t flat, ArrayRef<int64_t> out,
                       ArrayRef<int64_t> outStrides, ArrayRef<int64_t> in,
                       ArrayRef<int64_t> inStrides) {
  int64_t idx = 0, offset = out.size() - in.size();
  for (size_t d = 0; d < out.size(); ++d) {
    int64_t coord = (flat / outStrides[d]) % out[d];
    if ((int64_t)d >= offset && in[d - offset] != 1)
      idx += coord * inStrides[d - offset];
  }
  return idx;
}

FailureOr<SmallVector<int64_t>> broadcastAll(NodeContext &ctx,
                                             ArrayRef<const ConstTensor *> ins) {
  SmallVector<int64_t> shape;
  for (const ConstTensor *t : ins) {
    size_t rank = std::max(shape.size(), t->shape.size());
    SmallVector<int64_t> next(rank);
    for (size_t i = 0; i < rank; ++i) {
      int64_t a = i < rank - shape.size() ? 1 : shape[i - (rank - shape.size())];
      int64_t b = i < rank - t->shape.size() ? 1 : t->shape[i - (rank - t->shape.size())];
      if (a != b && a != 1 && b != 1)
        return ctx.fail("operand shapes do not broadcast");
      next[i] = a == 1 ? b : a;
    }
    shape = next;
  }
  return shape;
}

/// Elementwise evaluation with broadcasting; `fn` gets float and int views
/// of every input element and returns (float, int) results.
template <typename Fn>
FailureOr<ConstTensor> elementwise(NodeContext &ctx,
                                   ArrayRef<const ConstTensor *> ins,
                                   int32_t outType, Fn fn) {
  auto shape = broadcastAll(ctx, ins);
  if (failed(shape))
    return failure();
  ConstTensor out = ConstTensor::make(outType, *shape);
  auto outStrides = stridesOf(*shape);
  SmallVector<SmallVector<int64_t>> inStrides;
  for (const ConstTensor *t : ins)
    inStrides.push_back(stridesOf(t->shape));
  SmallVector<double> f(ins.size());
  SmallVector<int64_t> n(ins.size());
  for (int64_t i = 0, e = out.numElements(); i < e; ++i) {
    for (size_t k = 0; k < ins.size(); ++k) {
      int64_t j = broadcastIndex(i, *shape, outStrides, ins[k]->shape, inStrides[k]);
      f[k] = ins[k]->floatAt(j);
      n[k] = ins[k]->intAt(j);
    }
    auto [fv, nv] = fn(f, n);
    out.set(i, fv, nv);
  }
  return out;
}

ConstTensor reshaped(const ConstTensor &t, ArrayRef<int64_t> shape) {
  ConstTensor out = t;
  out.shape.assign(shape.begin(), shape.end());
  return out;
}

FailureOr<ConstTensor> foldConstantNode(NodeContext &ctx) {
  if (const auto *a = ctx.attr("value")) {
    ConstTensor t;
    std::string error;
    if (!readTensorProto(a->t(), t, error))
      return ctx.fail("value " + error);
    return t;
  }
  if (const auto *a = ctx.attr("value_float")) {
    ConstTensor t = ConstTensor::make(TP::FLOAT, {});
    t.floats[0] = a->f();
    return t;
  }
  if (const auto *a = ctx.attr("value_int")) {
    ConstTensor t = ConstTensor::make(TP::INT64, {});
    t.ints[0] = a->i();
    return t;
  }
  if (const auto *a = ctx.attr("value_floats")) {
    ConstTensor t = ConstTensor::make(TP::FLOAT, {(int64_t)a->floats_size()});
    for (int i = 0; i < a->floats_size(); ++i)
      t.floats[i] = a->floats(i);
    return t;
  }
  if (const auto *a = ctx.attr("value_ints")) {
    ConstTensor t = ConstTensor::make(TP::INT64, {(int64_t)a->ints_size()});
    for (int i = 0; i < a->ints_size(); ++i)
      t.ints[i] = a->ints(i);
    return t;
  }
  for (const auto &a : ctx.node.attribute())
    return ctx.unsupportedAttr(a.name(), "(only numeric dense constants)");
  return ctx.fail("Constant has no value");
}

FailureOr<ConstTensor> foldGather(NodeContext &ctx, const ConstTensor &data,
                                  const ConstTensor &indices) {
  int64_t rank = data.shape.size();
  auto axis = ctx.normalizeAxis(ctx.attrInt("axis", 0), rank);
  if (failed(axis))
    return failure();
  SmallVector<int64_t> shape(data.shape.begin(), data.shape.begin() + *axis);
  llvm::append_range(shape, indices.shape);
  shape.append(data.shape.begin() + *axis + 1, data.shape.end());
  ConstTensor out = ConstTensor::make(data.dtype, shape);
  int64_t outer = 1, inner = 1, dim = data.shape[*axis];
  for (int64_t d = 0; d < *axis; ++d)
    outer *= data.shape[d];
  for (int64_t d = *axis + 1; d < rank; ++d)
    inner *= data.shape[d];
  int64_t numIdx = indices.numElements(), o = 0;
  for (int64_t a = 0; a < outer; ++a)
    for (int64_t k = 0; k < numIdx; ++k) {
      int64_t idx = indices.intAt(k);
      if (idx < -dim || idx >= dim)
        return ctx.fail(llvm::formatv("index {0} is out of range for a "
                                      "dimension of size {1}",
                                      idx, dim)
                            .str());
      if (idx < 0)
        idx += dim;
      for (int64_t b = 0; b < inner; ++b, ++o) {
        int64_t src = (a * dim + idx) * inner + b;
        out.set(o, data.floatAt(src), data.intAt(src));
      }
    }
  return out;
}

FailureOr<ConstTensor> foldConcat(NodeContext &ctx,
                                  ArrayRef<const ConstTensor *> ins) {
  int64_t rank = ins[0]->shape.size();
  auto axis = ctx.normalizeAxis(ctx.attrInt("axis", 0), rank);
  if (failed(axis))
    return failure();
  SmallVector<int64_t> shape(ins[0]->shape);
  shape[*axis] = 0;
  for (const ConstTensor *t : ins) {
    if ((int64_t)t->shape.size() != rank)
      return ctx.fail("Concat inputs differ in rank");
    shape[*axis] += t->shape[*axis];
  }
  ConstTensor out = ConstTensor::make(ins[0]->dtype, shape);
  int64_t outer = 1;
  for (int64_t d = 0; d < *axis; ++d)
    outer *= shape[d];
  int64_t o = 0;
  for (int64_t a = 0; a < outer; ++a)
    for (const ConstTensor *t : ins) {
      int64_t chunk = t->numElements() / std::max<int64_t>(outer, 1);
      for (int64_t b = 0; b < chunk; ++b, ++o)
        out.set(o, t->floatAt(a * chunk + b), t->intAt(a * chunk + b));
    }
  return out;
}

FailureOr<ConstTensor> foldSlice(NodeContext &ctx, const ConstTensor &data) {
  auto b = resolveSlice(ctx, data.shape);
  if (failed(b))
    return failure();
  int64_t rank = data.shape.size();
  SmallVector<int64_t> shape;
  for (int64_t d = 0; d < rank; ++d) {
    int64_t s = b->starts[d], e = b->ends[d], st = b->steps[d];
    shape.push_back(st > 0 ? (e > s ? (e - s + st - 1) / st : 0)
                           : (s > e ? (s - e - st - 1) / -st : 0));
  }
  ConstTensor out = ConstTensor::make(data.dtype, shape);
  auto outStrides = stridesOf(shape), inStrides = stridesOf(data.shape);
  for (int64_t i = 0, n = out.numElements(); i < n; ++i) {
    int64_t src = 0;
    for (int64_t d = 0; d < rank; ++d)
      src += (b->starts[d] + ((i / outStrides[d]) % shape[d]) * b->steps[d]) *
             inStrides[d];
    out.set(i, data.floatAt(src), data.intAt(src));
  }
  return out;
}

FailureOr<ConstTensor> foldTranspose(NodeContext &ctx, const ConstTensor &data) {
  int64_t rank = data.shape.size();
  SmallVector<int64_t> perm = resolvePerm(ctx, rank);
  if ((int64_t)perm.size() != rank)
    return ctx.fail("perm does not match the input's rank");
  SmallVector<int64_t> shape;
  for (int64_t p : perm) {
    if (p < 0 || p >= rank)
      return ctx.fail("perm is not a permutation");
    shape.push_back(data.shape[p]);
  }
  ConstTensor out = ConstTensor::make(data.dtype, shape);
  auto outStrides = stridesOf(shape), inStrides = stridesOf(data.shape);
  for (int64_t i = 0, n = out.numElements(); i < n; ++i) {
    int64_t src = 0;
    for (int64_t d = 0; d < rank; ++d)
      src += ((i / outStrides[d]) % shape[d]) * inStrides[perm[d]];
    out.set(i, data.floatAt(src), data.intAt(src));
  }
  return out;
}

FailureOr<ConstTensor> foldCast(NodeContext &ctx, const ConstTensor &in) {
  int64_t to = ctx.attrInt("to", 0);
  if (!isSupportedDType(to))
    return ctx.unsupportedAttr("to", dtypeName(to));
  ConstTensor out = ConstTensor::make(to, in.shape);
  for (int64_t i = 0, n = in.numElements(); i < n; ++i) {
    double f = in.floatAt(i);
    int64_t v = in.isFloat() ? (std::isfinite(f) ? (int64_t)f : 0) : in.ints[i];
    if (to == TP::BOOL)
      v = in.isFloat() ? f != 0.0 : in.ints[i] != 0;
    out.set(i, f, v);
  }
  return out;
}

FailureOr<ConstTensor> foldRange(NodeContext &ctx,
                                 ArrayRef<const ConstTensor *> ins) {
  for (const ConstTensor *t : ins)
    if (t->numElements() != 1)
      return ctx.fail("Range inputs must be scalars");
  const ConstTensor &start = *ins[0];
  double s = start.floatAt(0), l = ins[1]->floatAt(0), d = ins[2]->floatAt(0);
  if (d == 0)
    return ctx.fail("Range delta is 0");
  int64_t n = std::max<int64_t>(0, (int64_t)std::ceil((l - s) / d));
  if (n > kMaxFoldElements)
    return ctx.fail("Range is too long");
  ConstTensor out = ConstTensor::make(start.dtype, {n});
  for (int64_t i = 0; i < n; ++i)
    out.set(i, s + i * d, start.intAt(0) + i * ins[2]->intAt(0));
  return out;
}

FailureOr<ConstTensor> foldConstantOfShape(NodeContext &ctx,
                                           const ConstTensor &shapeIn) {
  ConstTensor value = ConstTensor::make(TP::FLOAT, {1});
  if (const auto *a = ctx.attr("value")) {
    std::string error;
    if (!readTensorProto(a->t(), value, error) || value.numElements() != 1)
      return ctx.fail("value must be a one-element tensor");
  }
  SmallVector<int64_t> shape(shapeIn.ints.begin(), shapeIn.ints.end());
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0)
      return ctx.fail("ConstantOfShape has a negative dimension");
    n *= d;
  }
  if (n > kMaxFoldElements)
    return ctx.fail("ConstantOfShape result is too large to fold");
  ConstTensor out = ConstTensor::make(value.dtype, shape);
  for (int64_t i = 0; i < n; ++i)
    out.set(i, value.floatAt(0), value.intAt(0));
  return out;
}

using Values = SmallVector<double>;
using Ints = SmallVector<int64_t>;
using Pair = std::pair<double, int64_t>;

FailureOr<ConstTensor> foldArith(NodeContext &ctx, StringRef op,
                                 ArrayRef<const ConstTensor *> ins) {
  int32_t dtype = ins[0]->dtype;
  bool isFloat = ins[0]->isFloat();
  auto arith = [&](auto fn) { return elementwise(ctx, ins, dtype, fn); };
  auto compare = [&](auto fn) { return elementwise(ctx, ins, TP::BOOL, fn); };
  if (ins.size() == 2 && ins[0]->dtype != ins[1]->dtype && op != "Where")
    return ctx.fail("operands have different element types");
  if (op == "Add")
    return arith([](const Values &f, const Ints &n) { return Pair{f[0] + f[1], n[0] + n[1]}; });
  if (op == "Sub")
    return arith([](const Values &f, const Ints &n) { return Pair{f[0] - f[1], n[0] - n[1]}; });
  if (op == "Mul")
    return arith([](const Values &f, const Ints &n) { return Pair{f[0] * f[1], n[0] * n[1]}; });
  if (op == "Div") {
    if (!isFloat)
      for (int64_t v : ins[1]->ints)
        if (v == 0)
          return ctx.fail("integer division by zero");
    return arith([](const Values &f, const Ints &n) {
      return Pair{f[0] / f[1], n[1] ? n[0] / n[1] : 0};
    });
  }
  if (op == "Max")
    return arith([](const Values &f, const Ints &n) {
      return Pair{std::max(f[0], f[1]), std::max(n[0], n[1])};
    });
  if (op == "Min")
    return arith([](const Values &f, const Ints &n) {
      return Pair{std::min(f[0], f[1]), std::min(n[0], n[1])};
    });
  if (op == "Neg")
    return arith([](const Values &f, const Ints &n) { return Pair{-f[0], -n[0]}; });
  if (op == "Abs")
    return arith([](const Values &f, const Ints &n) {
      return Pair{std::fabs(f[0]), n[0] < 0 ? -n[0] : n[0]};
    });
  if (op == "Sqrt")
    return arith([](const Values &f, const Ints &n) {
      return Pair{std::sqrt(f[0]), (int64_t)std::sqrt((double)n[0])};
    });
  if (op == "Not")
    return arith([](const Values &, const Ints &n) { return Pair{0.0, !n[0]}; });
  if (op == "And")
    return arith([](const Values &, const Ints &n) { return Pair{0.0, n[0] && n[1]}; });
  if (op == "Or")
    return arith([](const Values &, const Ints &n) { return Pair{0.0, n[0] || n[1]}; });
  auto cmp = [&](auto less, auto eq) {
    return compare([=](const Values &f, const Ints &n) {
      bool r = isFloat ? (less(f[0], f[1]) || eq(f[0], f[1]))
                       : (less(n[0], n[1]) || eq(n[0], n[1]));
      return Pair{0.0, r};
    });
  };
  auto never = [](auto, auto) { return false; };
  if (op == "Equal")
    return cmp(never, [](auto a, auto b) { return a == b; });
  if (op == "Less")
    return cmp([](auto a, auto b) { return a < b; }, never);
  if (op == "LessOrEqual")
    return cmp([](auto a, auto b) { return a < b; }, [](auto a, auto b) { return a == b; });
  if (op == "Greater")
    return cmp([](auto a, auto b) { return a > b; }, never);
  if (op == "GreaterOrEqual")
    return cmp([](auto a, auto b) { return a > b; }, [](auto a, auto b) { return a == b; });
  if (op == "Where") {
    if (ins[1]->dtype != ins[2]->dtype)
      return ctx.fail("Where branches have different element types");
    return elementwise(ctx, ins, ins[1]->dtype, [](const Values &f, const Ints &n) {
      return n[0] ? Pair{f[1], n[1]} : Pair{f[2], n[2]};
    });
  }
  return ctx.fail("internal: no folder for " + op.str());
}

int64_t shapeElements(ArrayRef<int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}
} // namespace

FailureOr<bool> mlir::gpipe::import::tryFold(NodeContext &ctx) {
  StringRef op = ctx.node.op_type();
  FailureOr<ConstTensor> result = failure();
  if (op == "Constant") {
    result = foldConstantNode(ctx);
  } else if (op == "Shape" || op == "Size") {
    RankedTensorType type = ctx.hasInput(0) ? ctx.inputType(0) : nullptr;
    if (!type)
      return ctx.fail("input is not defined");
    ArrayRef<int64_t> shape = type.getShape();
    if (op == "Size") {
      ConstTensor t = ConstTensor::make(TP::INT64, {});
      t.ints[0] = shapeElements(shape);
      result = t;
    } else {
      int64_t rank = shape.size();
      int64_t start = ctx.attrInt("start", 0), end = ctx.attrInt("end", rank);
      start = std::clamp<int64_t>(start < 0 ? start + rank : start, 0, rank);
      end = std::clamp<int64_t>(end < 0 ? end + rank : end, 0, rank);
      result = ConstTensor::ints1D(shape.slice(start, std::max<int64_t>(end - start, 0)));
    }
  } else {
    static const llvm::StringSet<> foldable = {
        "Identity", "Cast", "Gather", "Unsqueeze", "Squeeze", "Reshape",
        "Flatten", "Concat", "Slice", "Transpose", "Expand", "Range",
        "ConstantOfShape", "Add", "Sub", "Mul", "Div", "Max", "Min", "Neg",
        "Abs", "Sqrt", "Not", "And", "Or", "Equal", "Less", "LessOrEqual",
        "Greater", "GreaterOrEqual", "Where"};
    if (!foldable.contains(op))
      return false;
    // Only the data operand must be known for the shape ops; their other
    // inputs are read as constants by the shared resolvers.
    SmallVector<const ConstTensor *> ins;
    for (int i = 0; i < ctx.numInputs(); ++i) {
      if (!ctx.hasInput(i))
        continue;
      // Strict lookup: a float initializer is a parameter, never folded.
      const ConstTensor *t = ctx.knownInput(i);
      if (!t)
        return false;
      ins.push_back(t);
    }
    if (ins.empty())
      return false;
    int64_t maxIn = 0;
    for (const ConstTensor *t : ins)
      maxIn = std::max(maxIn, t->numElements());
    if (maxIn > kMaxFoldElements)
      return false;
    const ConstTensor &x = *ins[0];
    if (op == "Identity")
      result = x;
    else if (op == "Cast")
      result = foldCast(ctx, x);
    else if (op == "Gather")
      result = ins.size() == 2 ? foldGather(ctx, x, *ins[1]) : FailureOr<ConstTensor>(failure());
    else if (op == "Unsqueeze" || op == "Squeeze" || op == "Reshape") {
      FailureOr<SmallVector<int64_t>> shape =
          op == "Unsqueeze" ? resolveUnsqueeze(ctx, x.shape.size())
          : op == "Squeeze" ? resolveSqueeze(ctx, x.shape)
                            : resolveReshape(ctx, x.shape);
      if (failed(shape))
        return failure();
      if (op == "Unsqueeze") {
        SmallVector<int64_t> out;
        for (int64_t d = 0, src = 0; d < (int64_t)(x.shape.size() + shape->size()); ++d)
          out.push_back(llvm::is_contained(*shape, d) ? 1 : x.shape[src++]);
        result = reshaped(x, out);
      } else if (op == "Squeeze") {
        SmallVector<int64_t> out;
        for (int64_t d = 0; d < (int64_t)x.shape.size(); ++d)
          if (!llvm::is_contained(*shape, d))
            out.push_back(x.shape[d]);
        result = reshaped(x, out);
      } else {
        result = reshaped(x, *shape);
      }
    } else if (op == "Flatten") {
      int64_t rank = x.shape.size(), axis = ctx.attrInt("axis", 1);
      if (axis < 0)
        axis += rank;
      if (axis < 0 || axis > rank)
        return ctx.fail("Flatten axis is out of range");
      int64_t outer = shapeElements(ArrayRef<int64_t>(x.shape).take_front(axis));
      result = reshaped(x, {outer, x.numElements() / std::max<int64_t>(outer, 1)});
    } else if (op == "Concat")
      result = foldConcat(ctx, ins);
    else if (op == "Slice")
      result = foldSlice(ctx, x);
    else if (op == "Transpose")
      result = foldTranspose(ctx, x);
    else if (op == "Expand") {
      if (ins.size() != 2)
        return ctx.fail("Expand needs a shape");
      ConstTensor target = ConstTensor::make(x.dtype, SmallVector<int64_t>(ins[1]->ints.begin(), ins[1]->ints.end()));
      result = elementwise(ctx, {&x, &target}, x.dtype,
                           [](const Values &f, const Ints &n) { return Pair{f[0], n[0]}; });
    } else if (op == "Range")
      result = ins.size() == 3 ? foldRange(ctx, ins) : FailureOr<ConstTensor>(ctx.fail("Range needs 3 inputs"));
    else if (op == "ConstantOfShape")
      result = foldConstantOfShape(ctx, x);
    else
      result = foldArith(ctx, op, ins);
  }
  if (failed(result))
    return failure();
  if (result->numElements() > kMaxFoldElements)
    return ctx.fail("folded result is too large");
  ctx.setOutputConst(0, std::move(*result));
  return true;
}
