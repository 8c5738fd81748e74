//===- ShapeOps.td - data movement and constants --------------*- tablegen -*-===//
//
// Ops that rearrange, select or combine elements without arithmetic, and
// constants. All shapes and indices are static attributes: the importer folds
// ONNX's shape-computing subgraphs into them.
//
//===----------------------------------------------------------------------===//

#ifndef GPIPE_DIALECT_SHAPEOPS_TD
#define GPIPE_DIALECT_SHAPEOPS_TD

include "gpipe/Dialect/GPipeBase.td"

def GPipe_ConstantOp : GPipe_Op<"constant", [Pure, ConstantLike, InferTypeOpAdaptor]> {
  let summary = "a tensor constant";
  let description = [{
    A small constant tensor (shape operands, scalars, masks). Model parameters
    are `gpipe.param` symbols instead, never constants.

    Example:

    ```mlir
    %c = gpipe.constant dense<[1.0, 2.0]> : tensor<2xf32>
    ```
  }];
  let arguments = (ins ElementsAttr:$value);
  let results = (outs GPipe_Tensor:$output);
  let assemblyFormat = "attr-dict $value";
  let hasFolder = 1;
}

def GPipe_ReshapeOp : GPipe_InferOp<"reshape", [GPipe_Differentiable]> {
  let summary = "reinterpret the shape, keeping row-major element order";
  let description = [{
    Gives `input` the static shape `shape`, which must hold the same number of
    elements.

    Example:

    ```mlir
    %y = gpipe.reshape %x {shape = array<i64: 8, 64>} : (tensor<8x4x4x4xf32>) -> tensor<8x64xf32>
    ```
  }];
  let arguments = (ins GPipe_Tensor:$input, DenseI64ArrayAttr:$shape);
  let results = (outs GPipe_Tensor:$output);
}

def GPipe_FlattenOp : GPipe_InferOp<"flatten", [GPipe_Differentiable]> {
  let summary = "collapse to a matrix at an axis";
  let description = [{
    Reshapes `input` to `[prod(shape[:axis]), prod(shape[axis:])]`.

    Example:

    ```mlir
    %y = gpipe.flatten %x {axis = 1 : i64} : (tensor<8x4x4x4xf32>) -> tensor<8x64xf32>
    ```
  }];
  let arguments = (ins GPipe_Tensor:$input, I64Attr:$axis);
  let results = (outs GPipe_Tensor:$output);
}

def GPipe_TransposeOp : GPipe_InferOp<"transpose", [GPipe_Differentiable]> {
  let summary = "permute dimensions";
  let description = [{
    Result dimension `i` is input dimension `perm[i]`.

    Example:

    ```mlir
    %y = gpipe.transpose %x {perm = array<i64: 0, 2, 1>} : (tensor<2x3x4xf32>) -> tensor<2x4x3xf32>
    ```
  }];
  let arguments = (ins GPipe_Tensor:$input, DenseI64ArrayAttr:$perm);
  let results = (outs GPipe_Tensor:$output);
}

def GPipe_SqueezeOp : GPipe_InferOp<"squeeze", [GPipe_Differentiable]> {
  let summary = "remove dimensions of size 1";
  let description = [{
    Removes the dimensions listed in `axes` (sorted, non-negative), each of
    which must have size 1.

    Example:

    ```mlir
    %y = gpipe.squeeze %x {axes = array<i64: 1>} : (tensor<8x1x4xf32>) -> tensor<8x4xf32>
    ```
  }];
  let arguments = (ins GPipe_Tensor:$input, DenseI64ArrayAttr:$axes);
  let results = (outs GPipe_Tensor:$output);
}

def GPipe_UnsqueezeOp : GPipe_InferOp<"unsqueeze", [GPipe_Differentiable]> {
  let summary = "insert dimensions of size 1";
  let description = [{
    Inserts size-1 dimensions so that they sit at positions `axes` (sorted,
    non-negative, in the result's numbering).

    Example:

    ```mlir
    %y = gpipe.unsqueeze %x {axes = array<i64: 0, 2>} : (tensor<8x4xf32>) -> tensor<1x8x1x4xf32>
    ```
  }];
  let arguments = (ins GPipe_Tensor:$input, DenseI64ArrayAttr:$axes);
  let results = (outs GPipe_Tensor:$output);
}

def GPipe_ConcatOp : GPipe_InferOp<"concat", [SameOperandsElementType, GPipe_Differentiable]> {
  let summary = "join tensors along an axis";
  let description = [{
    Concatenates `inputs` along `axis`; all other dimensions must agree.

    Example:

    ```mlir
    %y = gpipe.concat %a, %b {axis = 1 : i64} : (tensor<2x3xf32>, tensor<2x5xf32>) -> tensor<2x8xf32>
    ```
  }];
  let arguments = (ins Variadic<GPipe_Tensor>:$inputs, I64Attr:$axis);
  let results = (outs GPipe_Tensor:$output);
}

def GPipe_SplitOp : GPipe_InferOp<"split", [GPipe_Differentiable]> {
  let summary = "cut a tensor into pieces along an axis";
  let description = [{
    Splits `input` along `axis` into consecutive pieces of lengths `sizes`,
    which must add up to the dimension's size.

    Example:

    ```mlir
    %a, %b = gpipe.split %x {axis = 1 : i64, sizes = array<i64: 3, 5>}
        : (tensor<2x8xf32>) -> (tensor<2x3xf32>, tensor<2x5xf32>)
    ```
  }];
  let arguments = (ins GPipe_Tensor:$input, I64Attr:$axis, DenseI64ArrayAttr:$sizes);
  let results = (outs Variadic<GPipe_Tensor>:$outputs);
}

def GPipe_SliceOp : GPipe_InferOp<"slice", [GPipe_Differentiable]> {
  let summary = "strided slice with static bounds";
  let description = [{
    Takes, in every dimension `d`, the elements `starts[d], starts[d] +
    steps[d], ...` strictly before `ends[d]` (after for a negative step). The
    bounds are already clamped: `0 <= start < dim` (or the slice is empty) and
    `-1 <= end <= dim`, one entry per dimension.

    Example:

    ```mlir
    %y = gpipe.slice %x {starts = array<i64: 0, 2>, ends = array<i64: 4, 8>, steps = array<i64: 1, 2>}
        : (tensor<4x8xf32>) -> tensor<4x3xf32>
    ```
  }];
  let arguments = (ins GPipe_Tensor:$input, DenseI64ArrayAttr:$starts,
                   DenseI64ArrayAttr:$ends, DenseI64ArrayAttr:$steps);
  let results = (outs GPipe_Tensor:$output);
}

def GPipe_ExpandOp : GPipe_InferOp<"expand", [GPipe_Differentiable]> {
  let summary = "broadcast to a larger shape";
  let description = [{
    Broadcasts `input` with NumPy rules against `shape`; the result has the
    broadcast shape of the two.

    Example:

    ```mlir
    %y = gpipe.expand %x {shape = array<i64: 4, 8>} : (tensor<4x1xf32>) -> tensor<4x8xf32>
    ```
  }];
  let arguments = (ins GPipe_Tensor:$input, DenseI64ArrayAttr:$shape);
  let results = (outs GPipe_Tensor:$output);
}

def GPipe_GatherOp : GPipe_InferOp<"gather", [GPipe_Differentiable]> {
  let summary = "select slices along an axis by index (embedding lookup)";
  let description = [{
    ONNX Gather: the result shape is `data.shape[:axis] + indices.shape +
    data.shape[axis+1:]`. Negative indices count from the end. An embedding
    lookup is a gather on axis 0 of the embedding table.

    Example:

    ```mlir
    %y = gpipe.gather %table, %ids {axis = 0 : i64} : (tensor<1000x64xf32>, tensor<4x16xi64>) -> tensor<4x16x64xf32>
    ```
  }];
  let arguments = (ins GPipe_Tensor:$data, GPipe_IndexTensor:$indices, I64Attr:$axis);
  let results = (outs GPipe_Tensor:$output);
}

#endif // GPIPE_DIALECT_SHAPEOPS_TD
