//===- FoldTransposes.cpp - the gpipe-fold-transposes pass ----------------===//
//
// PyTorch exports `nn.Linear` on a [batch, seq, features] input as
// MatMul(x, Transpose(W)): a copy of the weight's transpose every forward,
// and in the backward a transposed copy of its gradient. A GEMM takes the
// transpose in its flags instead, and the rows of every batch entry are one
// matrix: matmul(x, transpose(w)) becomes reshape(gemm(reshape(x), w,
// trans_b)), where the reshapes are views once memory is planned.
//
//===----------------------------------------------------------------------===//

#include "gpipe/Dialect/GPipeOps.h"
#include "gpipe/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"

namespace mlir::gpipe {
#define GEN_PASS_DEF_FOLDTRANSPOSES
#include "gpipe/Transforms/Passes.h.inc"
} // namespace mlir::gpipe

using namespace mlir;
using namespace mlir::gpipe;

namespace {

/// The rank-2 matrix `v` is the transpose of, or null.
Value transposedMatrix(Value v) {
  auto t = v.getDefiningOp<TransposeOp>();
  if (!t)
    return Value();
  auto type = dyn_cast<RankedTensorType>(t.getInput().getType());
  ArrayRef<int64_t> perm = t.getPerm();
  if (!type || type.getRank() != 2 || perm.size() != 2 || perm[0] != 1 || perm[1] != 0)
    return Value();
  return t.getInput();
}

class FoldTransposesPass : public gpipe::impl::FoldTransposesBase<FoldTransposesPass> {
public:
  using FoldTransposesBase::FoldTransposesBase;

  void runOnOperation() override {
    SmallVector<MatMulOp> candidates;
    getOperation().walk([&](MatMulOp op) { candidates.push_back(op); });
    for (MatMulOp op : candidates) {
      if (failed(fold(op)))
        return signalPassFailure();
    }
  }

private:
  LogicalResult fold(MatMulOp op) {
    Value w = transposedMatrix(op.getRhs());
    auto lt = dyn_cast<RankedTensorType>(op.getLhs().getType());
    auto rt = dyn_cast<RankedTensorType>(op.getRhs().getType());
    auto yt = dyn_cast<RankedTensorType>(op.getResult().getType());
    if (!w || !lt || !rt || !yt || lt.getRank() < 2 || !lt.hasStaticShape() ||
        !rt.hasStaticShape() || !yt.hasStaticShape() || !lt.getElementType().isF32())
      return success();
    int64_t k = rt.getDimSize(0), n = rt.getDimSize(1);
    int64_t rows = lt.getNumElements() / k;
    OpBuilder b(op);
    Location loc = op.getLoc();
    MLIRContext *ctx = op.getContext();
    auto create = [&](StringRef name, ValueRange operands, ArrayRef<NamedAttribute> attrs,
                      Type type) {
      OperationState state(loc, name);
      state.addOperands(operands);
      state.addAttributes(attrs);
      state.addTypes(type);
      return b.create(state)->getResult(0);
    };
    auto shapeAttr = [&](ArrayRef<int64_t> shape) {
      return NamedAttribute(StringAttr::get(ctx, "shape"), b.getDenseI64ArrayAttr(shape));
    };
    Type elt = lt.getElementType();
    Value x = op.getLhs();
    if (lt.getRank() != 2)
      x = create(ReshapeOp::getOperationName(), {x}, {shapeAttr({rows, k})},
                 RankedTensorType::get({rows, k}, elt));
    Value gemm = create(GemmOp::getOperationName(), {x, w},
                     {NamedAttribute(StringAttr::get(ctx, "alpha"), b.getF32FloatAttr(1.0f)),
                      NamedAttribute(StringAttr::get(ctx, "beta"), b.getF32FloatAttr(0.0f)),
                      NamedAttribute(StringAttr::get(ctx, "trans_a"), b.getBoolAttr(false)),
                      NamedAttribute(StringAttr::get(ctx, "trans_b"), b.getBoolAttr(true))},
                     RankedTensorType::get({rows, n}, elt));
    if (failed(mlir::verify(gemm.getDefiningOp())))
      return op.emitOpError("gpipe-fold-transposes: internal error: the GEMM does not verify");
    Value y = gemm;
    if (yt.getRank() != 2)
      y = create(ReshapeOp::getOperationName(), {y}, {shapeAttr(yt.getShape())}, yt);
    Operation *transpose = op.getRhs().getDefiningOp();
    op.getResult().replaceAllUsesWith(y);
    op.erase();
    if (transpose->use_empty())
      transpose->erase();
    return success();
  }
};

} // namespace
