//===- GradientBuilder.h - building backward computations -------*- C++ -*-===//
//
// What gradient rules build with: gpipe ops created through their shape
// functions, plus the helpers most rules need (undoing broadcasts, scalar
// constants, reductions). Errors are sticky: a failed op yields a null value,
// later calls with a null operand yield null too, and failed() tells the
// autodiff driver to stop; the diagnostic names the forward op's location.
//
//===----------------------------------------------------------------------===//

#ifndef GPIPE_DIALECT_GRADIENTBUILDER_H
#define GPIPE_DIALECT_GRADIENTBUILDER_H

#include "mlir/IR/Builders.h"

namespace mlir::gpipe {

/// Creates the op `opName` with result types from its shape function
/// (InferTypeOpInterface); reports failures at `loc` and returns failure.
FailureOr<Operation *> createInferred(OpBuilder &builder, Location loc, StringRef opName,
                                      ValueRange operands, ArrayRef<NamedAttribute> attrs,
                                      unsigned numResults = 1);

class GradientBuilder {
public:
  GradientBuilder(OpBuilder &builder, Location loc) : b(builder), loc(loc) {}

  OpBuilder &builder() { return b; }
  Location getLoc() const { return loc; }
  void setLoc(Location l) { loc = l; }
  bool failed() const { return hadError; }
  /// Reports an error at the current location and marks the builder failed.
  InFlightDiagnostic error();

  /// An op through its shape function; null (and failed()) on error.
  Operation *create(StringRef opName, ValueRange operands, ArrayRef<NamedAttribute> attrs = {},
                    unsigned numResults = 1);
  template <typename OpTy>
  Value make(ValueRange operands, ArrayRef<NamedAttribute> attrs = {}) {
    Operation *op = create(OpTy::getOperationName(), operands, attrs, 1);
    return op ? op->getResult(0) : Value();
  }
  /// An op whose result has its operand's type (the unary elementwise ops).
  template <typename OpTy>
  Value same(Value x, ArrayRef<NamedAttribute> attrs = {}) {
    if (!x)
      return fail();
    OperationState state(loc, OpTy::getOperationName());
    state.addOperands(x);
    state.addAttributes(attrs);
    state.addTypes(x.getType());
    return b.create(state)->getResult(0);
  }

  NamedAttribute named(StringRef name, Attribute value) { return b.getNamedAttr(name, value); }
  Attribute i64Array(ArrayRef<int64_t> values) { return b.getDenseI64ArrayAttr(values); }

  /// A rank-0 constant of element type `elt`.
  Value scalar(Type elt, double value);
  /// A splat constant of `type`.
  Value splat(RankedTensorType type, double value);

  Value add(Value a, Value b);
  Value sub(Value a, Value b);
  Value mul(Value a, Value b);
  Value div(Value a, Value b);
  Value neg(Value a);
  Value reshape(Value x, ArrayRef<int64_t> shape);
  Value reduceSum(Value x, ArrayRef<int64_t> axes, bool keepDims);
  /// Sums `grad` over the dimensions a NumPy broadcast added or stretched so
  /// that it gets `target`'s shape.
  Value unbroadcast(Value grad, Type target);

private:
  Value fail() {
    hadError = true;
    return Value();
  }

  OpBuilder &b;
  Location loc;
  bool hadError = false;
};

} // namespace mlir::gpipe

#endif // GPIPE_DIALECT_GRADIENTBUILDER_H
