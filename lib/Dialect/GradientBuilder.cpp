//===- GradientBuilder.cpp - building backward computations ---------------===//

#include "gpipe/Dialect/GradientBuilder.h"
#include "gpipe/Dialect/GPipeOps.h"

#include "mlir/Interfaces/InferTypeOpInterface.h"

using namespace mlir;
using namespace mlir::gpipe;

FailureOr<Operation *> mlir::gpipe::createInferred(OpBuilder &builder, Location loc,
                                                   StringRef opName, ValueRange operands,
                                                   ArrayRef<NamedAttribute> attrs,
                                                   unsigned numResults) {
  OperationState state(loc, opName);
  state.addOperands(operands);
  state.addAttributes(attrs);
  // The placeholder types only live until the op's inference replaces them.
  state.addTypes(SmallVector<Type>(numResults, UnrankedTensorType::get(builder.getF32Type())));
  Operation *op = builder.create(state);
  auto infer = dyn_cast<InferTypeOpInterface>(op);
  SmallVector<Type> types;
  if (!infer ||
      failed(infer.inferReturnTypes(op->getContext(), loc, op->getOperands(),
                                    op->getRawDictionaryAttrs(), op->getPropertiesStorage(),
                                    op->getRegions(), types)) ||
      types.size() != numResults) {
    op->erase();
    return failure();
  }
  for (auto [result, type] : llvm::zip(op->getResults(), types))
    result.setType(type);
  return op;
}

InFlightDiagnostic GradientBuilder::error() {
  hadError = true;
  return emitError(loc);
}

Operation *GradientBuilder::create(StringRef opName, ValueRange operands,
                                   ArrayRef<NamedAttribute> attrs, unsigned numResults) {
  for (Value v : operands)
    if (!v) {
      hadError = true;
      return nullptr;
    }
  auto op = createInferred(b, loc, opName, operands, attrs, numResults);
  if (mlir::failed(op)) {
    hadError = true;
    return nullptr;
  }
  return *op;
}

Value GradientBuilder::splat(RankedTensorType type, double value) {
  Type elt = type.getElementType();
  Attribute v = isa<FloatType>(elt) ? Attribute(b.getFloatAttr(elt, value))
                                    : Attribute(b.getIntegerAttr(elt, (int64_t)value));
  return ConstantOp::create(b, loc, cast<ElementsAttr>(DenseElementsAttr::get(type, v)));
}

Value GradientBuilder::scalar(Type elt, double value) {
  return splat(RankedTensorType::get({}, elt), value);
}

Value GradientBuilder::add(Value x, Value y) { return make<AddOp>({x, y}); }
Value GradientBuilder::sub(Value x, Value y) { return make<SubOp>({x, y}); }
Value GradientBuilder::mul(Value x, Value y) { return make<MulOp>({x, y}); }
Value GradientBuilder::div(Value x, Value y) { return make<DivOp>({x, y}); }
Value GradientBuilder::neg(Value x) { return same<NegOp>(x); }

Value GradientBuilder::reshape(Value x, ArrayRef<int64_t> shape) {
  if (!x)
    return fail();
  if (cast<RankedTensorType>(x.getType()).getShape() == shape)
    return x;
  return make<ReshapeOp>(x, {named("shape", i64Array(shape))});
}

Value GradientBuilder::reduceSum(Value x, ArrayRef<int64_t> axes, bool keepDims) {
  return make<ReduceSumOp>(x, {named("axes", i64Array(axes)),
                               named("keep_dims", b.getBoolAttr(keepDims))});
}

Value GradientBuilder::unbroadcast(Value grad, Type targetType) {
  if (!grad)
    return fail();
  auto g = cast<RankedTensorType>(grad.getType());
  auto target = cast<RankedTensorType>(targetType);
  if (g.getShape() == target.getShape())
    return grad;
  int64_t offset = g.getRank() - target.getRank();
  SmallVector<int64_t> axes;
  for (int64_t d = 0; d < g.getRank(); ++d)
    if (d < offset || (target.getDimSize(d - offset) == 1 && g.getDimSize(d) != 1))
      axes.push_back(d);
  Value summed = axes.empty() ? grad : reduceSum(grad, axes, /*keepDims=*/true);
  return reshape(summed, target.getShape());
}
