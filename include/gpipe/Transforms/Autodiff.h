//===- Autodiff.h - reverse-mode differentiation of gpipe IR ----*- C++ -*-===//

#ifndef GPIPE_TRANSFORMS_AUTODIFF_H
#define GPIPE_TRANSFORMS_AUTODIFF_H

#include "mlir/IR/Builders.h"

namespace mlir::gpipe {

/// Builds, at `builder`'s insertion point, the gradient of the scalar `loss`
/// with respect to each value of `wrt` (all in one block, before the
/// insertion point), by walking the ops between them in reverse and calling
/// each op's DifferentiableOpInterface rule. Gradients of a value with
/// several uses are summed. The result has one entry per `wrt` value: null
/// when `loss` does not depend on it. An op on the path without a rule is an
/// error at its location (the ONNX node).
FailureOr<SmallVector<Value>> buildGradients(OpBuilder &builder, Value loss,
                                             ArrayRef<Value> wrt);

/// Erases the side-effect-free ops of `block` whose results are unused.
void eraseDeadOps(Block &block);

} // namespace mlir::gpipe

#endif // GPIPE_TRANSFORMS_AUTODIFF_H
