//===- MatMulGrad.cpp - gradient rules of matmul and gemm -----------------===//

#include "gpipe/Dialect/GPipeOps.h"
#include "gpipe/Dialect/GradientBuilder.h"

using namespace mlir;
using namespace mlir::gpipe;

namespace {
RankedTensorType typeOf(Value v) { return cast<RankedTensorType>(v.getType()); }

/// Swaps the last two dimensions.
Value transposeLast2(GradientBuilder &g, Value x) {
  int64_t rank = typeOf(x).getRank();
  SmallVector<int64_t> perm;
  for (int64_t i = 0; i < rank; ++i)
    perm.push_back(i);
  std::swap(perm[rank - 1], perm[rank - 2]);
  return g.make<TransposeOp>(x, {g.named("perm", g.i64Array(perm))});
}
} // namespace

LogicalResult MatMulOp::buildGradients(GradientBuilder &g, ArrayRef<Value> resultGrads,
                                       SmallVectorImpl<Value> &operandGrads) {
  operandGrads.assign(2, Value());
  Value dy = resultGrads[0];
  if (!dy)
    return success();
  auto lt = typeOf(getLhs()), rt = typeOf(getRhs());
  auto dt = typeOf(dy);
  // One weight matrix for every row: x [..., M, K] times w [K, N]. The rows
  // of every batch entry form one [P, K] matrix (P = batch * M, a view of
  // the same bytes), so each gradient is one GEMM with the transpose in its
  // flags: dx = dy w^T, dw = x^T dy. The general rule below would copy w^T,
  // copy x^T per batch entry, multiply per entry and sum over the batch.
  if (rt.getRank() == 2 && lt.getRank() >= 2 && lt.hasStaticShape() && rt.hasStaticShape() &&
      dt.hasStaticShape()) {
    int64_t k = rt.getDimSize(0), n = rt.getDimSize(1);
    int64_t rows = lt.getNumElements() / k;
    auto &b = g.builder();
    auto gemm = [&](Value x, Value y, bool tx, bool ty) {
      return g.make<GemmOp>({x, y}, {g.named("alpha", b.getF32FloatAttr(1.0f)),
                                     g.named("beta", b.getF32FloatAttr(0.0f)),
                                     g.named("trans_a", b.getBoolAttr(tx)),
                                     g.named("trans_b", b.getBoolAttr(ty))});
    };
    Value x2 = g.reshape(getLhs(), {rows, k}), d2 = g.reshape(dy, {rows, n});
    operandGrads[0] = g.reshape(gemm(d2, getRhs(), false, true), lt.getShape());
    operandGrads[1] = gemm(x2, d2, true, false);
    return success(!g.failed());
  }
  // Work with the rank >= 2 forms numpy.matmul promotes vectors to.
  SmallVector<int64_t> lShape(lt.getShape()), rShape(rt.getShape());
  if (lShape.size() == 1)
    lShape.insert(lShape.begin(), 1);
  if (rShape.size() == 1)
    rShape.push_back(1);
  SmallVector<int64_t> dyShape(typeOf(dy).getShape());
  if (lt.getRank() == 1)
    dyShape.insert(dyShape.end() - (rt.getRank() == 1 ? 0 : 1), 1);
  if (rt.getRank() == 1)
    dyShape.push_back(1);
  Value a = g.reshape(getLhs(), lShape), b = g.reshape(getRhs(), rShape);
  Value d = g.reshape(dy, dyShape);
  Value da = g.make<MatMulOp>({d, transposeLast2(g, b)});
  Value db = g.make<MatMulOp>({transposeLast2(g, a), d});
  Type aFull = RankedTensorType::get(lShape, lt.getElementType());
  Type bFull = RankedTensorType::get(rShape, rt.getElementType());
  operandGrads[0] = g.reshape(g.unbroadcast(da, aFull), lt.getShape());
  operandGrads[1] = g.reshape(g.unbroadcast(db, bFull), rt.getShape());
  return success(!g.failed());
}

LogicalResult GemmOp::buildGradients(GradientBuilder &g, ArrayRef<Value> resultGrads,
                                     SmallVectorImpl<Value> &operandGrads) {
  operandGrads.assign(getNumOperands(), Value());
  Value dy = resultGrads[0];
  if (!dy)
    return success();
  bool ta = getTransA(), tb = getTransB();
  double alpha = getAlpha().convertToDouble();
  auto gemm = [&](Value x, Value y, bool tx, bool ty) {
    auto &b = g.builder();
    return g.make<GemmOp>({x, y}, {g.named("alpha", b.getF32FloatAttr(alpha)),
                                   g.named("beta", b.getF32FloatAttr(0)),
                                   g.named("trans_a", b.getBoolAttr(tx)),
                                   g.named("trans_b", b.getBoolAttr(ty))});
  };
  // y = alpha op(A) op(B): dop(A) = alpha dy op(B)^T, dop(B) = alpha op(A)^T dy.
  operandGrads[0] = ta ? gemm(getB(), dy, tb, true) : gemm(dy, getB(), false, !tb);
  operandGrads[1] = tb ? gemm(dy, getA(), true, ta) : gemm(getA(), dy, !ta, false);
  if (Value c = getC()) {
    Type t = typeOf(dy).getElementType();
    double beta = getBeta().convertToDouble();
    operandGrads[2] = g.unbroadcast(beta == 1.0 ? dy : g.mul(dy, g.scalar(t, beta)), c.getType());
  }
  return success(!g.failed());
}
