//===- FoldLinear.cpp - the gpipe-fold-linear pass ------------------------===//
//
// PyTorch exports `nn.Linear` on a [batch, seq, features] input as
// Add(MatMul(x, Transpose(W)), b): a transposed copy of the weight every
// forward (and a transposed copy of its gradient every backward), a product
// per batch entry, and a separate pass to add the bias. One GEMM does all of
// it: the transpose in its flags, the rows of every batch entry as one
// matrix, the bias as its C operand (cuBLASLt's bias epilogue on CUDA):
//   reshape(gemm(reshape(x, [rows, K]), W, b, trans_b), shape of the result)
// where the reshapes are views once memory is planned.
//
//===----------------------------------------------------------------------===//

#include "gpipe/Dialect/GPipeOps.h"
#include "gpipe/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"

namespace mlir::gpipe {
#define GEN_PASS_DEF_FOLDLINEAR
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

/// The add that adds a bias row of `n` elements to `y` (its only use), and
/// the bias; {null, null} otherwise.
std::pair<AddOp, Value> biasAdd(Value y, int64_t n) {
  if (!y.hasOneUse())
    return {};
  auto add = dyn_cast<AddOp>(*y.getUsers().begin());
  if (!add || add.getResult().getType() != y.getType())
    return {};
  Value bias = add.getLhs() == y ? add.getRhs() : add.getLhs();
  if (bias == y)
    return {};
  auto bt = dyn_cast<RankedTensorType>(bias.getType());
  auto yt = cast<RankedTensorType>(y.getType());
  // [n] or [1, ..., 1, n]: the same row added to every row of y.
  if (!bt || !bt.hasStaticShape() || bt.getElementType() != yt.getElementType() ||
      bt.getRank() < 1 || bt.getRank() > yt.getRank() || bt.getNumElements() != n ||
      bt.getShape().back() != n)
    return {};
  return {add, bias};
}

class FoldLinearPass : public gpipe::impl::FoldLinearBase<FoldLinearPass> {
public:
  using FoldLinearBase::FoldLinearBase;

  void runOnOperation() override {
    SmallVector<MatMulOp> candidates;
    getOperation().walk([&](MatMulOp op) { candidates.push_back(op); });
    for (MatMulOp op : candidates)
      if (failed(fold(op)))
        return signalPassFailure();
  }

private:
  LogicalResult fold(MatMulOp op) {
    auto lt = dyn_cast<RankedTensorType>(op.getLhs().getType());
    auto rt = dyn_cast<RankedTensorType>(op.getRhs().getType());
    auto yt = dyn_cast<RankedTensorType>(op.getResult().getType());
    if (!lt || !rt || !yt || lt.getRank() < 2 || rt.getRank() != 2 || !lt.hasStaticShape() ||
        !rt.hasStaticShape() || !yt.hasStaticShape() || !lt.getElementType().isF32())
      return success();
    Value w = transposedMatrix(op.getRhs());
    bool transposed = static_cast<bool>(w);
    if (!transposed)
      w = op.getRhs();
    // Nothing to gain from a lone product of matrices.
    auto [add, bias] = biasAdd(op.getResult(), rt.getDimSize(1));
    if (!transposed && !add && lt.getRank() == 2)
      return success();
    int64_t k = rt.getDimSize(0), n = rt.getDimSize(1);
    int64_t rows = lt.getNumElements() / k;
    OpBuilder b(add ? add.getOperation() : op.getOperation());
    Location loc = op.getLoc();
    MLIRContext *ctx = op.getContext();
    Type elt = lt.getElementType();
    auto create = [&](StringRef name, ValueRange operands, ArrayRef<NamedAttribute> attrs,
                      Type type) -> Value {
      OperationState state(loc, name);
      state.addOperands(operands);
      state.addAttributes(attrs);
      state.addTypes(type);
      return b.create(state)->getResult(0);
    };
    auto named = [&](StringRef name, Attribute value) {
      return NamedAttribute(StringAttr::get(ctx, name), value);
    };
    auto reshape = [&](Value v, ArrayRef<int64_t> shape) -> Value {
      if (cast<RankedTensorType>(v.getType()).getShape() == shape)
        return v;
      return create(ReshapeOp::getOperationName(), {v},
                    {named("shape", b.getDenseI64ArrayAttr(shape))},
                    RankedTensorType::get(shape, elt));
    };
    SmallVector<Value> operands{reshape(op.getLhs(), {rows, k}), w};
    if (add)
      operands.push_back(reshape(bias, {n}));
    Value gemm = create(GemmOp::getOperationName(), operands,
                        {named("alpha", b.getF32FloatAttr(1.0f)),
                         named("beta", b.getF32FloatAttr(add ? 1.0f : 0.0f)),
                         named("trans_a", b.getBoolAttr(false)),
                         named("trans_b", b.getBoolAttr(transposed))},
                        RankedTensorType::get({rows, n}, elt));
    if (failed(mlir::verify(gemm.getDefiningOp())))
      return op.emitOpError("gpipe-fold-linear: internal error: the GEMM does not verify");
    Value y = reshape(gemm, yt.getShape());
    Operation *transpose = transposed ? op.getRhs().getDefiningOp() : nullptr;
    if (add) {
      add.getResult().replaceAllUsesWith(y);
      add.erase();
    }
    op.getResult().replaceAllUsesWith(y);
    op.erase();
    if (transpose && transpose->use_empty())
      transpose->erase();
    return success();
  }
};

} // namespace
