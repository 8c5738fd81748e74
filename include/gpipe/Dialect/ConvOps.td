//===- ConvOps.td - convolution and pooling -------------------*- tablegen -*-===//
//
// 2-D convolution and pooling over NCHW tensors.
//
//===----------------------------------------------------------------------===//

#ifndef GPIPE_DIALECT_CONVOPS_TD
#define GPIPE_DIALECT_CONVOPS_TD

include "gpipe/Dialect/GPipeBase.td"

def GPipe_ConvOp : GPipe_InferOp<"conv", [SameOperandsElementType, GPipe_Differentiable]> {
  let summary = "2-D grouped convolution (NCHW, OIHW weights)";
  let description = [{
    Cross-correlation of `input` `[N, C, H, W]` with `weight`
    `[F, C/groups, KH, KW]`, plus the optional `bias` `[F]`. `pads` are
    `[top, left, bottom, right]`. `groups == C == F` is a depthwise
    convolution. Output size per spatial dimension:
    `(in + pad_begin + pad_end - dilation * (k - 1) - 1) / stride + 1`.

    Example:

    ```mlir
    %y = gpipe.conv %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>,
                                dilations = array<i64: 1, 1>, groups = 1 : i64}
        : (tensor<8x3x32x32xf32>, tensor<16x3x3x3xf32>, tensor<16xf32>) -> tensor<8x16x32x32xf32>
    ```
  }];
  let arguments = (ins GPipe_FloatTensor:$input, GPipe_FloatTensor:$weight,
                   Optional<GPipe_FloatTensor>:$bias, DenseI64ArrayAttr:$strides,
                   DenseI64ArrayAttr:$pads, DenseI64ArrayAttr:$dilations, I64Attr:$groups);
  let results = (outs GPipe_FloatTensor:$output);
}

class GPipe_PoolOp<string mnemonic, string what, list<Trait> traits = []>
    : GPipe_InferOp<mnemonic, !listconcat(traits, [GPipe_Differentiable])> {
  let summary = "2-D " # what # " pooling (NCHW)";
  let results = (outs GPipe_FloatTensor:$output);
}

def GPipe_MaxPoolOp : GPipe_PoolOp<"max_pool", "max"> {
  let description = [{
    Maximum over `kernel` windows of `input` `[N, C, H, W]`. Padded positions
    never win. `ceil_mode` rounds the output size up instead of down.

    Example:

    ```mlir
    %y = gpipe.max_pool %x {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>,
                            pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>,
                            ceil_mode = false} : (tensor<8x16x32x32xf32>) -> tensor<8x16x16x16xf32>
    ```
  }];
  let arguments = (ins GPipe_FloatTensor:$input, DenseI64ArrayAttr:$kernel,
                   DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads,
                   DenseI64ArrayAttr:$dilations, BoolAttr:$ceil_mode);
}

def GPipe_AvgPoolOp : GPipe_PoolOp<"avg_pool", "average"> {
  let description = [{
    Mean over `kernel` windows of `input` `[N, C, H, W]`. With
    `count_include_pad` the divisor is the full kernel size, otherwise the
    number of unpadded positions in the window.

    Example:

    ```mlir
    %y = gpipe.avg_pool %x {kernel = array<i64: 3, 3>, strides = array<i64: 1, 1>,
                            pads = array<i64: 1, 1, 1, 1>, ceil_mode = false,
                            count_include_pad = false} : (tensor<8x16x32x32xf32>) -> tensor<8x16x32x32xf32>
    ```
  }];
  let arguments = (ins GPipe_FloatTensor:$input, DenseI64ArrayAttr:$kernel,
                   DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads,
                   BoolAttr:$ceil_mode, BoolAttr:$count_include_pad);
}

def GPipe_GlobalAvgPoolOp : GPipe_PoolOp<"global_avg_pool", "global average"> {
  let description = [{
    Mean over all spatial positions: `[N, C, H, W]` to `[N, C, 1, 1]`.

    Example:

    ```mlir
    %y = gpipe.global_avg_pool %x : (tensor<8x16x7x7xf32>) -> tensor<8x16x1x1xf32>
    ```
  }];
  let arguments = (ins GPipe_FloatTensor:$input);
}

def GPipe_GlobalMaxPoolOp : GPipe_PoolOp<"global_max_pool", "global max"> {
  let description = [{
    Maximum over all spatial positions: `[N, C, H, W]` to `[N, C, 1, 1]`.

    Example:

    ```mlir
    %y = gpipe.global_max_pool %x : (tensor<8x16x7x7xf32>) -> tensor<8x16x1x1xf32>
    ```
  }];
  let arguments = (ins GPipe_FloatTensor:$input);
}

#endif // GPIPE_DIALECT_CONVOPS_TD
