//===- Autodiff.cpp - reverse-mode differentiation of gpipe IR ------------===//

#include "gpipe/Transforms/Autodiff.h"
#include "gpipe/Dialect/GPipeOps.h"
#include "gpipe/Dialect/GradientBuilder.h"

#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/SetVector.h"

using namespace mlir;
using namespace mlir::gpipe;

static bool isFloatTensor(Value v) {
  auto t = dyn_cast<RankedTensorType>(v.getType());
  return t && isa<FloatType>(t.getElementType());
}

FailureOr<SmallVector<Value>> mlir::gpipe::buildGradients(OpBuilder &builder, Value loss,
                                                          ArrayRef<Value> wrt) {
  GradientBuilder g(builder, loss.getLoc());
  Value one = g.splat(cast<RankedTensorType>(loss.getType()), 1.0);
  return buildVectorJacobianProduct(builder, {loss}, {one}, wrt);
}

FailureOr<SmallVector<Value>>
mlir::gpipe::buildVectorJacobianProduct(OpBuilder &builder, ArrayRef<Value> outputs,
                                        ArrayRef<Value> seeds, ArrayRef<Value> wrt) {
  assert(outputs.size() == seeds.size() && "one seed per output");
  if (outputs.empty())
    return SmallVector<Value>(wrt.size(), Value());
  Block *block = Value(outputs.front()).getParentBlock();
  // Values that depend on a `wrt` value (forward) and that the loss depends
  // on (backward): only they carry gradients.
  llvm::DenseSet<Value> dependsOnWrt(wrt.begin(), wrt.end());
  for (Operation &op : *block)
    for (Value operand : op.getOperands())
      if (dependsOnWrt.contains(operand)) {
        for (Value r : op.getResults())
          if (isFloatTensor(r))
            dependsOnWrt.insert(r);
        break;
      }
  llvm::DenseSet<Value> active;
  for (Value out : outputs)
    if (dependsOnWrt.contains(out))
      active.insert(out);
  if (active.empty())
    return SmallVector<Value>(wrt.size(), Value());
  SmallVector<Operation *> tape;
  for (Operation &op : llvm::reverse(*block)) {
    bool onPath = llvm::any_of(op.getResults(), [&](Value r) { return active.contains(r); });
    if (!onPath)
      continue;
    tape.push_back(&op);
    for (Value operand : op.getOperands())
      if (dependsOnWrt.contains(operand) && isFloatTensor(operand))
        active.insert(operand);
  }

  DenseMap<Value, Value> grads;
  GradientBuilder g(builder, outputs.front().getLoc());
  for (auto [out, seed] : llvm::zip(outputs, seeds)) {
    if (!active.contains(out))
      continue;
    Value &acc = grads[out];
    acc = acc ? g.add(acc, seed) : seed;
  }
  for (Operation *op : tape) {
    // Sources (the parameters, the inputs' producers) need no rule.
    if (llvm::none_of(op->getOperands(), [&](Value v) { return active.contains(v); }))
      continue;
    SmallVector<Value> resultGrads;
    for (Value r : op->getResults())
      resultGrads.push_back(grads.lookup(r));
    auto rule = dyn_cast<DifferentiableOpInterface>(op);
    if (!rule)
      return op->emitError("cannot differentiate '")
             << op->getName() << "': it has no gradient rule";
    g.setLoc(op->getLoc());
    SmallVector<Value> operandGrads;
    if (failed(rule.buildGradients(g, resultGrads, operandGrads)) || g.failed())
      return op->emitError("the gradient rule of '") << op->getName() << "' failed";
    for (auto [operand, grad] : llvm::zip(op->getOperands(), operandGrads)) {
      if (!grad || !active.contains(operand))
        continue;
      Value &acc = grads[operand];
      acc = acc ? g.add(acc, grad) : grad;
    }
    if (g.failed())
      return failure();
  }
  SmallVector<Value> result;
  for (Value w : wrt)
    result.push_back(grads.lookup(w));
  return result;
}

void mlir::gpipe::eraseDeadOps(Block &block) {
  for (Operation &op : llvm::make_early_inc_range(llvm::reverse(block)))
    if (op.use_empty() && !op.hasTrait<OpTrait::IsTerminator>() && isMemoryEffectFree(&op))
      op.erase();
}
