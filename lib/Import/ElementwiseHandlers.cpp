//===- ElementwiseHandlers.cpp - ONNX elementwise ops to gpipe ------------===//

#include "ImporterImpl.h"

#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace mlir::gpipe;
using namespace mlir::gpipe::import;

namespace {
template <typename OpTy>
Handler unary() {
  return [](NodeContext &ctx) -> LogicalResult {
    auto x = ctx.input(0);
    if (failed(x))
      return failure();
    ctx.setOutput(0, ctx.createSameType<OpTy>(*x));
    return success();
  };
}

/// Converts `v` to `elt` when it is a different element type (ONNX Pow lets
/// the exponent differ).
Value castTo(NodeContext &ctx, Value v, Type elt) {
  auto t = cast<RankedTensorType>(v.getType());
  if (t.getElementType() == elt)
    return v;
  auto op = ctx.create1<CastOp>(v, {ctx.named("to", TypeAttr::get(elt))});
  return succeeded(op) ? *op : Value();
}

template <typename OpTy>
Handler binary(bool castRhs = false) {
  return [castRhs](NodeContext &ctx) -> LogicalResult {
    auto lhs = ctx.input(0), rhs = ctx.input(1);
    if (failed(lhs) || failed(rhs))
      return failure();
    Value r = *rhs;
    if (castRhs) {
      r = castTo(ctx, r, cast<RankedTensorType>(lhs->getType()).getElementType());
      if (!r)
        return failure();
    }
    auto out = ctx.create1<OpTy>(ValueRange{*lhs, r});
    if (failed(out))
      return failure();
    ctx.setOutput(0, *out);
    return success();
  };
}

/// Folds variadic inputs into a chain of binary ops (Max, Min, Sum, Mean).
template <typename OpTy>
FailureOr<Value> chain(NodeContext &ctx) {
  auto acc = ctx.input(0);
  if (failed(acc))
    return failure();
  Value v = *acc;
  for (int i = 1; i < ctx.numInputs(); ++i) {
    auto next = ctx.input(i);
    if (failed(next))
      return failure();
    auto out = ctx.create1<OpTy>(ValueRange{v, *next});
    if (failed(out))
      return failure();
    v = *out;
  }
  return v;
}

template <typename OpTy>
Handler variadic() {
  return [](NodeContext &ctx) { return ctx.setResult(chain<OpTy>(ctx)); };
}

LogicalResult convertLeakyRelu(NodeContext &ctx) {
  auto x = ctx.input(0);
  if (failed(x))
    return failure();
  float alpha = ctx.attrFloat("alpha", 0.01f);
  ctx.setOutput(0, ctx.createSameType<LeakyReluOp>(
                       *x, {ctx.named("alpha", ctx.builder().getF32FloatAttr(alpha))}));
  return success();
}

LogicalResult convertClip(NodeContext &ctx) {
  auto x = ctx.input(0);
  if (failed(x))
    return failure();
  SmallVector<NamedAttribute> attrs;
  const char *names[] = {"", "min", "max"};
  for (int i = 1; i <= 2; ++i) {
    if (!ctx.hasInput(i))
      continue;
    auto bound = ctx.constScalar(i, names[i]);
    if (failed(bound))
      return failure();
    attrs.push_back(ctx.named(names[i], ctx.builder().getF32FloatAttr(*bound)));
  }
  auto lo = llvm::find_if(attrs, [](NamedAttribute a) { return a.getName() == "min"; });
  auto hi = llvm::find_if(attrs, [](NamedAttribute a) { return a.getName() == "max"; });
  if (lo != attrs.end() && hi != attrs.end() &&
      cast<FloatAttr>(lo->getValue()).getValueAsDouble() >
          cast<FloatAttr>(hi->getValue()).getValueAsDouble())
    return ctx.fail("min is greater than max");
  ctx.setOutput(0, ctx.createSameType<ClipOp>(*x, attrs));
  return success();
}

LogicalResult convertCast(NodeContext &ctx) {
  auto x = ctx.input(0);
  if (failed(x))
    return failure();
  int64_t to = ctx.attrInt("to", 0);
  Type elt = elementTypeFor(to, ctx.context());
  if (!elt)
    return ctx.unsupportedAttr("to", dtypeName(to));
  if (cast<RankedTensorType>(x->getType()).getElementType() == elt) {
    ctx.setOutput(0, *x);
    return success();
  }
  auto out = ctx.create1<CastOp>(*x, {ctx.named("to", TypeAttr::get(elt))});
  if (failed(out))
    return failure();
  ctx.setOutput(0, *out);
  return success();
}

LogicalResult convertCastLike(NodeContext &ctx) {
  auto x = ctx.input(0), like = ctx.input(1);
  if (failed(x) || failed(like))
    return failure();
  Value v = castTo(ctx, *x, cast<RankedTensorType>(like->getType()).getElementType());
  if (!v)
    return failure();
  ctx.setOutput(0, v);
  return success();
}

/// Variadic Mean: the sum of the inputs divided by their number.
LogicalResult convertMean(NodeContext &ctx) {
  auto sum = chain<AddOp>(ctx);
  if (failed(sum))
    return failure();
  Type elt = cast<RankedTensorType>(sum->getType()).getElementType();
  return ctx.setResult(
      ctx.create1<DivOp>(ValueRange{*sum, ctx.scalarConstant(elt, ctx.numInputs())}));
}

LogicalResult convertMod(NodeContext &ctx) {
  auto a = ctx.input(0), b = ctx.input(1);
  if (failed(a) || failed(b))
    return failure();
  bool fmod = ctx.attrInt("fmod", 0) != 0;
  if (!fmod && isa<FloatType>(cast<RankedTensorType>(a->getType()).getElementType()))
    return ctx.unsupportedAttr("fmod", "0 with float operands (ONNX requires fmod=1)");
  return ctx.setResult(ctx.create1<ModOp>(ValueRange{*a, *b},
                                          {ctx.named("fmod", ctx.builder().getBoolAttr(fmod))}));
}

LogicalResult convertWhere(NodeContext &ctx) {
  auto c = ctx.input(0), a = ctx.input(1), b = ctx.input(2);
  if (failed(c) || failed(a) || failed(b))
    return failure();
  auto out = ctx.create1<WhereOp>(ValueRange{*c, *a, *b});
  if (failed(out))
    return failure();
  ctx.setOutput(0, *out);
  return success();
}

LogicalResult convertIdentity(NodeContext &ctx) {
  if (const ConstTensor *t = ctx.constInput(0);
      t && !ctx.inputType(0).getElementType().isFloat()) {
    ctx.setOutputConst(0, *t);
    return success();
  }
  auto x = ctx.input(0);
  if (failed(x))
    return failure();
  ctx.setOutput(0, *x);
  return success();
}
} // namespace

void mlir::gpipe::import::registerElementwiseHandlers(HandlerTable &t) {
  t["Neg"] = unary<NegOp>();
  t["Abs"] = unary<AbsOp>();
  t["Sqrt"] = unary<SqrtOp>();
  t["Exp"] = unary<ExpOp>();
  t["Log"] = unary<LogOp>();
  t["Reciprocal"] = unary<ReciprocalOp>();
  t["Erf"] = unary<ErfOp>();
  t["Tanh"] = unary<TanhOp>();
  t["Sigmoid"] = unary<SigmoidOp>();
  t["Relu"] = unary<ReluOp>();
  t["Floor"] = unary<FloorOp>();
  t["Ceil"] = unary<CeilOp>();
  t["Sin"] = unary<SinOp>();
  t["Cos"] = unary<CosOp>();
  t["Not"] = unary<NotOp>();
  t["LeakyRelu"] = convertLeakyRelu;
  t["Clip"] = convertClip;
  t["Cast"] = convertCast;
  t["Add"] = binary<AddOp>();
  t["Sub"] = binary<SubOp>();
  t["Mul"] = binary<MulOp>();
  t["Div"] = binary<DivOp>();
  t["Pow"] = binary<PowOp>(/*castRhs=*/true);
  t["Equal"] = binary<EqualOp>();
  t["Less"] = binary<LessOp>();
  t["LessOrEqual"] = binary<LessEqualOp>();
  t["Greater"] = binary<GreaterOp>();
  t["GreaterOrEqual"] = binary<GreaterEqualOp>();
  t["And"] = binary<AndOp>();
  t["Or"] = binary<OrOp>();
  t["Max"] = variadic<MaxOp>();
  t["Min"] = variadic<MinOp>();
  t["Sum"] = variadic<AddOp>();
  t["Mean"] = convertMean;
  t["CastLike"] = convertCastLike;
  t["Mod"] = convertMod;
  t["Where"] = convertWhere;
  t["Identity"] = convertIdentity;
}
