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

/// The vector-Jacobian product: the gradient with respect to each `wrt`
/// value of `sum_i <seeds[i], outputs[i]>`, where `seeds[i]` has the type of
/// `outputs[i]` (a pipeline stage's backward: the gradients of its outputs
/// arrive from the next stage). `buildGradients` is the case of one scalar
/// output seeded with 1. Null entries as for `buildGradients`.
FailureOr<SmallVector<Value>> buildVectorJacobianProduct(OpBuilder &builder,
                                                         ArrayRef<Value> outputs,
                                                         ArrayRef<Value> seeds,
                                                         ArrayRef<Value> wrt);

/// Erases the side-effect-free ops of `block` whose results are unused.
void eraseDeadOps(Block &block);

} // namespace mlir::gpipe

#endif // GPIPE_TRANSFORMS_AUTODIFF_H
