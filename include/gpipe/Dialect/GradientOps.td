//===- GradientOps.td - ops only backward passes use ----------*- tablegen -*-===//
//
// The backward halves of ops whose gradients are not elementwise compositions:
// convolution, pooling, normalization, the class losses, gather and slice.
//
//===----------------------------------------------------------------------===//

#ifndef GPIPE_DIALECT_GRADIENTOPS_TD
#define GPIPE_DIALECT_GRADIENTOPS_TD

include "gpipe/Dialect/GPipeBase.td"

def GPipe_ConvGradInputOp : GPipe_InferOp<"conv_grad_input", [SameOperandsElementType]> {
  let summary = "gradient of a 2-D convolution with respect to its input";
  let description = [{
    The transposed convolution of `grad` (the gradient of `gpipe.conv`'s
    result) with `weight`, giving a tensor of shape `input_shape`; the
    attributes are those of the forward convolution.

    Example:

    ```mlir
    %dx = gpipe.conv_grad_input %dy, %w {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>,
          dilations = array<i64: 1, 1>, groups = 1 : i64, input_shape = array<i64: 8, 3, 32, 32>}
        : (tensor<8x16x32x32xf32>, tensor<16x3x3x3xf32>) -> tensor<8x3x32x32xf32>
    ```
  }];
  let arguments = (ins GPipe_FloatTensor:$grad, GPipe_FloatTensor:$weight,
                   DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads,
                   DenseI64ArrayAttr:$dilations, I64Attr:$groups,
                   DenseI64ArrayAttr:$input_shape);
  let results = (outs GPipe_FloatTensor:$output);
}

def GPipe_ConvGradWeightOp : GPipe_InferOp<"conv_grad_weight", [SameOperandsElementType]> {
  let summary = "gradient of a 2-D convolution with respect to its weight";
  let description = [{
    Correlates the forward `input` with `grad` (the gradient of the
    convolution's result), giving a tensor of shape `weight_shape`.

    Example:

    ```mlir
    %dw = gpipe.conv_grad_weight %dy, %x {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>,
          dilations = array<i64: 1, 1>, groups = 1 : i64, weight_shape = array<i64: 16, 3, 3, 3>}
        : (tensor<8x16x32x32xf32>, tensor<8x3x32x32xf32>) -> tensor<16x3x3x3xf32>
    ```
  }];
  let arguments = (ins GPipe_FloatTensor:$grad, GPipe_FloatTensor:$input,
                   DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads,
                   DenseI64ArrayAttr:$dilations, I64Attr:$groups,
                   DenseI64ArrayAttr:$weight_shape);
  let results = (outs GPipe_FloatTensor:$output);
}

def GPipe_MaxPoolGradOp : GPipe_InferOp<"max_pool_grad", [SameOperandsElementType]> {
  let summary = "gradient of 2-D max pooling";
  let description = [{
    Routes each element of `grad` to the position of its window's maximum in
    the forward `input` (the first one on ties).

    Example:

    ```mlir
    %dx = gpipe.max_pool_grad %dy, %x {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>,
          pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>}
        : (tensor<8x16x16x16xf32>, tensor<8x16x32x32xf32>) -> tensor<8x16x32x32xf32>
    ```
  }];
  let arguments = (ins GPipe_FloatTensor:$grad, GPipe_FloatTensor:$input,
                   DenseI64ArrayAttr:$kernel, DenseI64ArrayAttr:$strides,
                   DenseI64ArrayAttr:$pads, DenseI64ArrayAttr:$dilations);
  let results = (outs GPipe_FloatTensor:$output);
}

def GPipe_AvgPoolGradOp : GPipe_InferOp<"avg_pool_grad"> {
  let summary = "gradient of 2-D average pooling";
  let description = [{
    Spreads each element of `grad` evenly over its window, with the divisor
    the forward pooling used; the result has shape `input_shape`.

    Example:

    ```mlir
    %dx = gpipe.avg_pool_grad %dy {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>,
          pads = array<i64: 0, 0, 0, 0>, count_include_pad = false, input_shape = array<i64: 8, 16, 32, 32>}
        : (tensor<8x16x16x16xf32>) -> tensor<8x16x32x32xf32>
    ```
  }];
  let arguments = (ins GPipe_FloatTensor:$grad, DenseI64ArrayAttr:$kernel,
                   DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads,
                   BoolAttr:$count_include_pad, DenseI64ArrayAttr:$input_shape);
  let results = (outs GPipe_FloatTensor:$output);
}

def GPipe_BatchNormTrainGradOp : GPipe_InferOp<"batch_norm_train_grad", [SameOperandsElementType]> {
  let summary = "gradient of training-mode batch normalization";
  let description = [{
    Differentiates `gpipe.batch_norm_train`'s normalized output through the
    batch mean and variance: returns the gradients of the input, the scale
    and the bias.

    Example:

    ```mlir
    %dx, %dscale, %dbias = gpipe.batch_norm_train_grad %dy, %x, %scale {epsilon = 1.0e-05 : f32}
        : (tensor<8x16x4x4xf32>, tensor<8x16x4x4xf32>, tensor<16xf32>)
        -> (tensor<8x16x4x4xf32>, tensor<16xf32>, tensor<16xf32>)
    ```
  }];
  let arguments = (ins GPipe_FloatTensor:$grad, GPipe_FloatTensor:$input,
                   GPipe_FloatTensor:$scale, F32Attr:$epsilon);
  let results = (outs GPipe_FloatTensor:$input_grad, GPipe_FloatTensor:$scale_grad,
                  GPipe_FloatTensor:$bias_grad);
}

def GPipe_LayerNormGradOp : GPipe_InferOp<"layer_norm_grad", [SameOperandsElementType]> {
  let summary = "gradient of layer normalization";
  let description = [{
    Returns the gradients of `gpipe.layer_norm`'s input, scale and bias.

    Example:

    ```mlir
    %dx, %dg, %db = gpipe.layer_norm_grad %dy, %x, %g {axis = 2 : i64, epsilon = 1.0e-05 : f32}
        : (tensor<4x16x64xf32>, tensor<4x16x64xf32>, tensor<64xf32>)
        -> (tensor<4x16x64xf32>, tensor<64xf32>, tensor<64xf32>)
    ```
  }];
  let arguments = (ins GPipe_FloatTensor:$grad, GPipe_FloatTensor:$input,
                   GPipe_FloatTensor:$scale, I64Attr:$axis, F32Attr:$epsilon);
  let results = (outs GPipe_FloatTensor:$input_grad, GPipe_FloatTensor:$scale_grad,
                  GPipe_FloatTensor:$bias_grad);
}

def GPipe_NllLossGradOp : GPipe_InferOp<"nll_loss_grad"> {
  let summary = "gradient of the negative log-likelihood";
  let description = [{
    Scatters `-weight[label] * grad` (divided by the total weight for
    `reduction = mean`) to each label's position of a zero tensor of shape
    `input_shape`; `grad` is the gradient of `gpipe.nll_loss`'s result.

    Example:

    ```mlir
    %d = gpipe.nll_loss_grad %dl, %t {reduction = #gpipe.reduction<mean>, input_shape = array<i64: 8, 10>}
        : (tensor<f32>, tensor<8xi64>) -> tensor<8x10xf32>
    ```
  }];
  let arguments = (ins GPipe_FloatTensor:$grad, GPipe_IndexTensor:$labels,
                   Optional<GPipe_FloatTensor>:$weights, GPipe_LossReductionAttr:$reduction,
                   OptionalAttr<I64Attr>:$ignore_index, DenseI64ArrayAttr:$input_shape);
  let results = (outs GPipe_FloatTensor:$output);
}

def GPipe_GatherGradOp : GPipe_InferOp<"gather_grad"> {
  let summary = "gradient of gather: scatter-add into the data's shape";
  let description = [{
    Adds each slice of `grad` to the `data_shape` tensor at the position its
    index selected (indices that repeat accumulate): the gradient of an
    embedding table.

    Example:

    ```mlir
    %d = gpipe.gather_grad %dy, %ids {axis = 0 : i64, data_shape = array<i64: 1000, 64>}
        : (tensor<4x16x64xf32>, tensor<4x16xi64>) -> tensor<1000x64xf32>
    ```
  }];
  let arguments = (ins GPipe_FloatTensor:$grad, GPipe_IndexTensor:$indices, I64Attr:$axis,
                   DenseI64ArrayAttr:$data_shape);
  let results = (outs GPipe_FloatTensor:$output);
}

def GPipe_SliceGradOp : GPipe_InferOp<"slice_grad"> {
  let summary = "gradient of slice: place into zeros";
  let description = [{
    A zero tensor of shape `input_shape` with `grad` written at the positions
    the forward `gpipe.slice` read (`starts`, `steps`).

    Example:

    ```mlir
    %d = gpipe.slice_grad %dy {starts = array<i64: 0, 2>, steps = array<i64: 1, 2>, input_shape = array<i64: 4, 8>}
        : (tensor<4x3xf32>) -> tensor<4x8xf32>
    ```
  }];
  let arguments = (ins GPipe_Tensor:$grad, DenseI64ArrayAttr:$starts, DenseI64ArrayAttr:$steps,
                   DenseI64ArrayAttr:$input_shape);
  let results = (outs GPipe_Tensor:$output);
}

#endif // GPIPE_DIALECT_GRADIENTOPS_TD
