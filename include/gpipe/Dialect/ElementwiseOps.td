//===- ElementwiseOps.td - unary, binary and ternary math ----*- tablegen -*-===//
//
// Elementwise ops. Binary and ternary ops broadcast their operands with NumPy
// rules (the rules ONNX uses); the result shape is the broadcast shape.
//
//===----------------------------------------------------------------------===//

#ifndef GPIPE_DIALECT_ELEMENTWISEOPS_TD
#define GPIPE_DIALECT_ELEMENTWISEOPS_TD

include "gpipe/Dialect/GPipeBase.td"

//===----------------------------------------------------------------------===//
// Unary
//===----------------------------------------------------------------------===//

/// A unary op whose result has the type of its operand.
class GPipe_UnaryOp<string mnemonic, string formula, Type operandType = GPipe_FloatTensor,
                    list<Trait> traits = []>
    : GPipe_Op<mnemonic, !listconcat(traits, [Pure, SameOperandsAndResultType,
                                              Elementwise, GPipe_Differentiable])> {
  let summary = "elementwise " # formula;
  let description = "Computes `" # formula # "` for every element of `input`."
    # " The result has the type of the operand.\n\nExample:\n\n```mlir\n"
    # "%y = gpipe." # mnemonic # " %x : tensor<4x8xf32>\n```";
  let arguments = (ins operandType:$input);
  let results = (outs operandType:$output);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def GPipe_NegOp : GPipe_UnaryOp<"neg", "-x", RankedTensorOf<[AnySignlessInteger, AnyFloat]>>;
def GPipe_AbsOp : GPipe_UnaryOp<"abs", "|x|", RankedTensorOf<[AnySignlessInteger, AnyFloat]>>;
def GPipe_SqrtOp : GPipe_UnaryOp<"sqrt", "sqrt(x)">;
def GPipe_ExpOp : GPipe_UnaryOp<"exp", "e^x">;
def GPipe_LogOp : GPipe_UnaryOp<"log", "ln(x)">;
def GPipe_ReciprocalOp : GPipe_UnaryOp<"reciprocal", "1/x">;
def GPipe_ErfOp : GPipe_UnaryOp<"erf", "erf(x)">;
def GPipe_TanhOp : GPipe_UnaryOp<"tanh", "tanh(x)">;
def GPipe_SigmoidOp : GPipe_UnaryOp<"sigmoid", "1/(1+e^-x)">;
def GPipe_ReluOp : GPipe_UnaryOp<"relu", "max(x, 0)">;
def GPipe_FloorOp : GPipe_UnaryOp<"floor", "floor(x)">;
def GPipe_CeilOp : GPipe_UnaryOp<"ceil", "ceil(x)">;
def GPipe_SinOp : GPipe_UnaryOp<"sin", "sin(x)">;
def GPipe_CosOp : GPipe_UnaryOp<"cos", "cos(x)">;
def GPipe_NotOp : GPipe_UnaryOp<"not", "logical not x", GPipe_BoolTensor>;

def GPipe_LeakyReluOp : GPipe_Op<"leaky_relu", [Pure, SameOperandsAndResultType, Elementwise, GPipe_Differentiable]> {
  let summary = "elementwise leaky rectifier";
  let description = [{
    Computes `x` where `x >= 0` and `alpha * x` elsewhere.

    Example:

    ```mlir
    %y = gpipe.leaky_relu %x {alpha = 0.01 : f32} : tensor<4x8xf32>
    ```
  }];
  let arguments = (ins GPipe_FloatTensor:$input, F32Attr:$alpha);
  let results = (outs GPipe_FloatTensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def GPipe_GeluOp : GPipe_Op<"gelu", [Pure, SameOperandsAndResultType, Elementwise, GPipe_Differentiable]> {
  let summary = "elementwise Gaussian error linear unit";
  let description = [{
    Computes `x * Phi(x)` with `Phi` the standard normal CDF (`approximation =
    none`, the erf form) or its tanh approximation (`approximation = tanh`).

    Example:

    ```mlir
    %y = gpipe.gelu %x {approximation = #gpipe.gelu_approximation<none>} : tensor<4x8xf32>
    ```
  }];
  let arguments = (ins GPipe_FloatTensor:$input,
                   GPipe_GeluApproximationAttr:$approximation);
  let results = (outs GPipe_FloatTensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def GPipe_ClipOp : GPipe_Op<"clip", [Pure, SameOperandsAndResultType, Elementwise, GPipe_Differentiable]> {
  let summary = "elementwise clamp to [min, max]";
  let description = [{
    Clamps every element to `[min, max]`. Either bound may be absent. The
    verifier rejects `min > max`. Integer tensors clamp to the bounds
    converted to their type.

    Example:

    ```mlir
    %y = gpipe.clip %x {min = 0.0 : f32, max = 6.0 : f32} : tensor<4x8xf32>
    ```
  }];
  let arguments = (ins GPipe_NumericTensor:$input, OptionalAttr<F32Attr>:$min,
                   OptionalAttr<F32Attr>:$max);
  let results = (outs GPipe_NumericTensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasVerifier = 1;
}

def GPipe_CastOp : GPipe_InferOp<"cast", [Elementwise, GPipe_Differentiable]> {
  let summary = "elementwise conversion of the element type";
  let description = [{
    Converts every element to the element type `to`, with the shape unchanged.
    Floats convert to integers by truncation toward zero, and any nonzero value
    converts to `true` (`i1`).

    Example:

    ```mlir
    %y = gpipe.cast %x {to = i64} : (tensor<4xf32>) -> tensor<4xi64>
    ```
  }];
  let arguments = (ins GPipe_Tensor:$input, TypeAttr:$to);
  let results = (outs GPipe_Tensor:$output);
}

//===----------------------------------------------------------------------===//
// Binary, with NumPy broadcasting
//===----------------------------------------------------------------------===//

/// A binary op over operands of one element type, broadcast to a common shape.
class GPipe_BinaryOp<string mnemonic, string formula, Type operandType = GPipe_Tensor,
                     Type resultType = GPipe_Tensor, list<Trait> traits = []>
    : GPipe_InferOp<mnemonic, !listconcat(traits, [SameOperandsElementType, GPipe_Differentiable])> {
  let summary = "elementwise " # formula # " with broadcasting";
  let description = "Computes `" # formula # "` elementwise after broadcasting"
    # " `lhs` and `rhs` to a common shape with NumPy rules.\n\nExample:\n\n"
    # "```mlir\n%z = gpipe." # mnemonic
    # " %x, %y : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8x"
    # !if(!eq(resultType, GPipe_BoolTensor), "i1", "f32") # ">\n```";
  let arguments = (ins operandType:$lhs, operandType:$rhs);
  let results = (outs resultType:$output);
}

def GPipe_AddOp : GPipe_BinaryOp<"add", "lhs + rhs", GPipe_Tensor, GPipe_Tensor, [Commutative]>;
def GPipe_SubOp : GPipe_BinaryOp<"sub", "lhs - rhs">;
def GPipe_MulOp : GPipe_BinaryOp<"mul", "lhs * rhs", GPipe_Tensor, GPipe_Tensor, [Commutative]>;
def GPipe_DivOp : GPipe_BinaryOp<"div", "lhs / rhs">;
def GPipe_PowOp : GPipe_BinaryOp<"pow", "lhs ^ rhs", GPipe_NumericTensor, GPipe_NumericTensor>;
def GPipe_MaxOp : GPipe_BinaryOp<"max", "max(lhs, rhs)", GPipe_Tensor, GPipe_Tensor, [Commutative]>;
def GPipe_MinOp : GPipe_BinaryOp<"min", "min(lhs, rhs)", GPipe_Tensor, GPipe_Tensor, [Commutative]>;
def GPipe_EqualOp : GPipe_BinaryOp<"equal", "lhs == rhs", GPipe_Tensor, GPipe_BoolTensor, [Commutative]>;
def GPipe_LessOp : GPipe_BinaryOp<"less", "lhs < rhs", GPipe_Tensor, GPipe_BoolTensor>;
def GPipe_LessEqualOp : GPipe_BinaryOp<"less_equal", "lhs <= rhs", GPipe_Tensor, GPipe_BoolTensor>;
def GPipe_GreaterOp : GPipe_BinaryOp<"greater", "lhs > rhs", GPipe_Tensor, GPipe_BoolTensor>;
def GPipe_GreaterEqualOp : GPipe_BinaryOp<"greater_equal", "lhs >= rhs", GPipe_Tensor, GPipe_BoolTensor>;
def GPipe_AndOp : GPipe_BinaryOp<"and", "lhs and rhs", GPipe_BoolTensor, GPipe_BoolTensor, [Commutative]>;
def GPipe_OrOp : GPipe_BinaryOp<"or", "lhs or rhs", GPipe_BoolTensor, GPipe_BoolTensor, [Commutative]>;

def GPipe_ModOp : GPipe_InferOp<"mod", [SameOperandsElementType]> {
  let summary = "elementwise remainder with broadcasting";
  let description = [{
    The remainder of `lhs / rhs` after broadcasting. With `fmod` it has the
    sign of `lhs` (C's `fmod`, required for floats); without, the sign of
    `rhs` (Python's `%`). An integer remainder by zero is a runtime error.
    It has no gradient.

    Example:

    ```mlir
    %r = gpipe.mod %x, %y {fmod = false} : (tensor<4xi64>, tensor<i64>) -> tensor<4xi64>
    ```
  }];
  let arguments = (ins GPipe_NumericTensor:$lhs, GPipe_NumericTensor:$rhs, BoolAttr:$fmod);
  let results = (outs GPipe_NumericTensor:$output);
  let hasVerifier = 1;
}

def GPipe_WhereOp : GPipe_InferOp<"where", [GPipe_Differentiable]> {
  let summary = "elementwise select with broadcasting";
  let description = [{
    Picks `lhs` where `condition` is true and `rhs` elsewhere, after
    broadcasting all three operands to a common shape.

    Example:

    ```mlir
    %z = gpipe.where %c, %x, %y : (tensor<4x1xi1>, tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
    ```
  }];
  let arguments = (ins GPipe_BoolTensor:$condition, GPipe_Tensor:$lhs, GPipe_Tensor:$rhs);
  let results = (outs GPipe_Tensor:$output);
}

#endif // GPIPE_DIALECT_ELEMENTWISEOPS_TD
