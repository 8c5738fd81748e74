//===- GradientInterface.td - reverse-mode rules of ops -------*- tablegen -*-===//

#ifndef GPIPE_DIALECT_GRADIENTINTERFACE_TD
#define GPIPE_DIALECT_GRADIENTINTERFACE_TD

include "mlir/IR/OpBase.td"

def GPipe_DifferentiableOpInterface : OpInterface<"DifferentiableOpInterface"> {
  let cppNamespace = "::mlir::gpipe";
  let description = [{
    An op with a reverse-mode gradient rule. Given the gradients of its
    results (a null value where no gradient flows), the rule builds, with
    `gpipe` ops, the gradient of each operand (null for operands that have
    none: integer indices, masks, ...). The rules live beside the ops, one
    file per op family (`lib/Dialect/*Grad.cpp`).
  }];
  let methods = [
    InterfaceMethod<
      "Builds the operands' gradients from the results' gradients.",
      "::llvm::LogicalResult", "buildGradients",
      (ins "::mlir::gpipe::GradientBuilder &":$builder,
           "::llvm::ArrayRef<::mlir::Value>":$resultGrads,
           "::llvm::SmallVectorImpl<::mlir::Value> &":$operandGrads)>,
  ];
}

#endif // GPIPE_DIALECT_GRADIENTINTERFACE_TD
