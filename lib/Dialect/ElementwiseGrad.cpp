//===- ElementwiseGrad.cpp - gradient rules of elementwise ops ------------===//

#include "gpipe/Dialect/GPipeOps.h"
#include "gpipe/Dialect/GradientBuilder.h"

#include <cmath>

using namespace mlir;
using namespace mlir::gpipe;

namespace {
Type eltOf(Value v) { return cast<RankedTensorType>(v.getType()).getElementType(); }
bool isFloat(Value v) { return isa<FloatType>(eltOf(v)); }

/// where(cond, a, 0).
Value selectOrZero(GradientBuilder &g, Value cond, Value a) {
  return g.make<WhereOp>({cond, a, g.scalar(eltOf(a), 0.0)});
}

/// The rule of a unary op: operandGrads = {dy * f'(x, y)}.
template <typename Fn>
LogicalResult unaryRule(Operation *op, GradientBuilder &g, ArrayRef<Value> resultGrads,
                        SmallVectorImpl<Value> &operandGrads, Fn derivativeTimes) {
  Value dy = resultGrads[0];
  Value x = op->getOperand(0), y = op->getResult(0);
  operandGrads.assign(1, Value());
  if (dy && isFloat(x))
    operandGrads[0] = derivativeTimes(dy, x, y);
  return success(!g.failed());
}
} // namespace

#define GPIPE_UNARY_RULE(OP, ...)                                                         \
  LogicalResult OP::buildGradients(GradientBuilder &g, ArrayRef<Value> resultGrads,         \
                                   SmallVectorImpl<Value> &operandGrads) {                  \
    return unaryRule(getOperation(), g, resultGrads, operandGrads,                          \
                     [&](Value dy, Value x, Value y) -> Value __VA_ARGS__);                    \
  }

GPIPE_UNARY_RULE(NegOp, { return g.neg(dy); })
GPIPE_UNARY_RULE(AbsOp, {
  Type t = eltOf(x);
  Value sign = g.make<WhereOp>({g.make<LessOp>({x, g.scalar(t, 0)}), g.scalar(t, -1),
                                g.scalar(t, 1)});
  return g.mul(dy, sign);
})
GPIPE_UNARY_RULE(SqrtOp, { return g.div(dy, g.mul(y, g.scalar(eltOf(x), 2))); })
GPIPE_UNARY_RULE(ExpOp, { return g.mul(dy, y); })
GPIPE_UNARY_RULE(LogOp, { return g.div(dy, x); })
GPIPE_UNARY_RULE(ReciprocalOp, { return g.neg(g.mul(dy, g.mul(y, y))); })
GPIPE_UNARY_RULE(ErfOp, {
  Type t = eltOf(x);
  Value e = g.same<ExpOp>(g.neg(g.mul(x, x)));
  return g.mul(dy, g.mul(e, g.scalar(t, 2.0 / std::sqrt(M_PI))));
})
GPIPE_UNARY_RULE(TanhOp, { return g.mul(dy, g.sub(g.scalar(eltOf(x), 1), g.mul(y, y))); })
GPIPE_UNARY_RULE(SigmoidOp, {
  return g.mul(dy, g.mul(y, g.sub(g.scalar(eltOf(x), 1), y)));
})
GPIPE_UNARY_RULE(ReluOp, {
  return selectOrZero(g, g.make<GreaterOp>({x, g.scalar(eltOf(x), 0)}), dy);
})
GPIPE_UNARY_RULE(FloorOp, { return Value(); })
GPIPE_UNARY_RULE(CeilOp, { return Value(); })
GPIPE_UNARY_RULE(SinOp, { return g.mul(dy, g.same<CosOp>(x)); })
GPIPE_UNARY_RULE(CosOp, { return g.neg(g.mul(dy, g.same<SinOp>(x))); })
GPIPE_UNARY_RULE(NotOp, { return Value(); })
GPIPE_UNARY_RULE(LeakyReluOp, {
  Type t = eltOf(x);
  Value scaled = g.mul(dy, g.scalar(t, getAlpha().convertToDouble()));
  return g.make<WhereOp>({g.make<GreaterOp>({x, g.scalar(t, 0)}), dy, scaled});
})
GPIPE_UNARY_RULE(GeluOp, {
  Type t = eltOf(x);
  if (getApproximation() == GeluApproximation::None) {
    // d/dx x*Phi(x) = Phi(x) + x * phi(x).
    Value cdf = g.mul(g.add(g.scalar(t, 1), g.same<ErfOp>(g.mul(x, g.scalar(t, M_SQRT1_2)))),
                      g.scalar(t, 0.5));
    Value pdf = g.mul(g.same<ExpOp>(g.mul(g.mul(x, x), g.scalar(t, -0.5))),
                      g.scalar(t, 1.0 / std::sqrt(2 * M_PI)));
    return g.mul(dy, g.add(cdf, g.mul(x, pdf)));
  }
  // y = 0.5 x (1 + tanh(u)), u = k (x + c x^3).
  double k = std::sqrt(2 / M_PI), c = 0.044715;
  Value x2 = g.mul(x, x);
  Value u = g.mul(g.add(x, g.mul(g.mul(x2, x), g.scalar(t, c))), g.scalar(t, k));
  Value th = g.same<TanhOp>(u);
  Value du = g.mul(g.add(g.scalar(t, 1), g.mul(x2, g.scalar(t, 3 * c))), g.scalar(t, k));
  Value left = g.mul(g.add(g.scalar(t, 1), th), g.scalar(t, 0.5));
  Value right = g.mul(g.mul(g.mul(x, g.sub(g.scalar(t, 1), g.mul(th, th))), du),
                      g.scalar(t, 0.5));
  return g.mul(dy, g.add(left, right));
})
GPIPE_UNARY_RULE(ClipOp, {
  Type t = eltOf(x);
  Value inside;
  if (getMin())
    inside = g.make<GreaterEqualOp>({x, g.scalar(t, getMin()->convertToDouble())});
  if (getMax()) {
    Value below = g.make<LessEqualOp>({x, g.scalar(t, getMax()->convertToDouble())});
    inside = inside ? g.make<AndOp>({inside, below}) : below;
  }
  return inside ? selectOrZero(g, inside, dy) : dy;
})

LogicalResult CastOp::buildGradients(GradientBuilder &g, ArrayRef<Value> resultGrads,
                                     SmallVectorImpl<Value> &operandGrads) {
  operandGrads.assign(1, Value());
  Value dy = resultGrads[0];
  if (dy && isFloat(getInput()) && isFloat(getOutput()))
    operandGrads[0] = g.make<CastOp>(dy, {g.named("to", TypeAttr::get(eltOf(getInput())))});
  return success(!g.failed());
}

namespace {
/// The rule of a broadcasting binary op: {d/dlhs, d/drhs}, each summed back
/// to its operand's shape.
template <typename Fn>
LogicalResult binaryRule(Operation *op, GradientBuilder &g, ArrayRef<Value> resultGrads,
                         SmallVectorImpl<Value> &operandGrads, Fn grads) {
  Value dy = resultGrads[0];
  Value lhs = op->getOperand(0), rhs = op->getOperand(1), y = op->getResult(0);
  operandGrads.assign(2, Value());
  if (!dy || !isFloat(lhs))
    return success();
  auto [dl, dr] = grads(dy, lhs, rhs, y);
  if (dl)
    operandGrads[0] = g.unbroadcast(dl, lhs.getType());
  if (dr)
    operandGrads[1] = g.unbroadcast(dr, rhs.getType());
  return success(!g.failed());
}
using Pair = std::pair<Value, Value>;
} // namespace

#define GPIPE_BINARY_RULE(OP, ...)                                                        \
  LogicalResult OP::buildGradients(GradientBuilder &g, ArrayRef<Value> resultGrads,         \
                                   SmallVectorImpl<Value> &operandGrads) {                  \
    return binaryRule(getOperation(), g, resultGrads, operandGrads,                         \
                      [&](Value dy, Value l, Value r, Value y) -> Pair __VA_ARGS__);           \
  }

GPIPE_BINARY_RULE(AddOp, { return {dy, dy}; })
GPIPE_BINARY_RULE(SubOp, { return {dy, g.neg(dy)}; })
GPIPE_BINARY_RULE(MulOp, { return {g.mul(dy, r), g.mul(dy, l)}; })
GPIPE_BINARY_RULE(DivOp, { return {g.div(dy, r), g.neg(g.div(g.mul(dy, y), r))}; })
GPIPE_BINARY_RULE(PowOp, {
  Type t = eltOf(l);
  // d/dl = r * l^(r-1) * dy; d/dr = y * ln(l) * dy.
  Value dl = g.mul(dy, g.mul(r, g.make<PowOp>({l, g.sub(r, g.scalar(t, 1))})));
  Value dr = g.mul(dy, g.mul(y, g.same<LogOp>(l)));
  return {dl, dr};
})
GPIPE_BINARY_RULE(MaxOp, {
  Value takeLeft = g.make<GreaterEqualOp>({l, r});
  Value zero = g.scalar(eltOf(l), 0);
  return {g.make<WhereOp>({takeLeft, dy, zero}), g.make<WhereOp>({takeLeft, zero, dy})};
})
GPIPE_BINARY_RULE(MinOp, {
  Value takeLeft = g.make<LessEqualOp>({l, r});
  Value zero = g.scalar(eltOf(l), 0);
  return {g.make<WhereOp>({takeLeft, dy, zero}), g.make<WhereOp>({takeLeft, zero, dy})};
})
GPIPE_BINARY_RULE(EqualOp, { return {Value(), Value()}; })
GPIPE_BINARY_RULE(LessOp, { return {Value(), Value()}; })
GPIPE_BINARY_RULE(LessEqualOp, { return {Value(), Value()}; })
GPIPE_BINARY_RULE(GreaterOp, { return {Value(), Value()}; })
GPIPE_BINARY_RULE(GreaterEqualOp, { return {Value(), Value()}; })
GPIPE_BINARY_RULE(AndOp, { return {Value(), Value()}; })
GPIPE_BINARY_RULE(OrOp, { return {Value(), Value()}; })

LogicalResult WhereOp::buildGradients(GradientBuilder &g, ArrayRef<Value> resultGrads,
                                      SmallVectorImpl<Value> &operandGrads) {
  operandGrads.assign(3, Value());
  Value dy = resultGrads[0];
  if (!dy || !isFloat(getLhs()))
    return success();
  Value zero = g.scalar(eltOf(dy), 0);
  operandGrads[1] = g.unbroadcast(g.make<WhereOp>({getCondition(), dy, zero}), getLhs().getType());
  operandGrads[2] = g.unbroadcast(g.make<WhereOp>({getCondition(), zero, dy}), getRhs().getType());
  return success(!g.failed());
}
