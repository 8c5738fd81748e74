//===- MatMulOps.td - matrix products -------------------------*- tablegen -*-===//
//
// Matrix multiplication with NumPy batch semantics, and ONNX's Gemm.
//
//===----------------------------------------------------------------------===//

#ifndef GPIPE_DIALECT_MATMULOPS_TD
#define GPIPE_DIALECT_MATMULOPS_TD

include "gpipe/Dialect/GPipeBase.td"

def GPipe_MatMulOp : GPipe_InferOp<"matmul", [SameOperandsElementType, GPipe_Differentiable]> {
  let summary = "matrix product with NumPy batch broadcasting";
  let description = [{
    `numpy.matmul`: a rank-1 `lhs` is treated as a row vector and a rank-1
    `rhs` as a column vector (the added dimension is dropped from the result);
    leading (batch) dimensions broadcast. The contracted dimensions must agree.

    Example:

    ```mlir
    %y = gpipe.matmul %x, %w : (tensor<8x16x64xf32>, tensor<64x32xf32>) -> tensor<8x16x32xf32>
    ```
  }];
  let arguments = (ins GPipe_FloatTensor:$lhs, GPipe_FloatTensor:$rhs);
  let results = (outs GPipe_FloatTensor:$output);
}

def GPipe_GemmOp : GPipe_InferOp<"gemm", [SameOperandsElementType, GPipe_Differentiable]> {
  let summary = "general matrix multiply: alpha * op(A) * op(B) + beta * C";
  let description = [{
    ONNX Gemm on rank-2 operands. `op(X)` is `X` or its transpose as
    `trans_a`/`trans_b` say; the optional `c` broadcasts to the `[M, N]`
    result.

    Example:

    ```mlir
    %y = gpipe.gemm %x, %w, %b {alpha = 1.0 : f32, beta = 1.0 : f32, trans_a = false, trans_b = true}
        : (tensor<32x784xf32>, tensor<128x784xf32>, tensor<128xf32>) -> tensor<32x128xf32>
    ```
  }];
  let arguments = (ins GPipe_FloatTensor:$a, GPipe_FloatTensor:$b,
                   Optional<GPipe_FloatTensor>:$c, F32Attr:$alpha, F32Attr:$beta,
                   BoolAttr:$trans_a, BoolAttr:$trans_b);
  let results = (outs GPipe_FloatTensor:$output);
}

#endif // GPIPE_DIALECT_MATMULOPS_TD
