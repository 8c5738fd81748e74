//===- NormalizationOps.td - normalization, softmax, dropout --*- tablegen -*-===//
//
// Batch and layer normalization, softmax and log-softmax, and dropout.
//
//===----------------------------------------------------------------------===//

#ifndef GPIPE_DIALECT_NORMALIZATIONOPS_TD
#define GPIPE_DIALECT_NORMALIZATIONOPS_TD

include "gpipe/Dialect/GPipeBase.td"

def GPipe_BatchNormOp : GPipe_InferOp<"batch_norm", [SameOperandsElementType, GPipe_Differentiable]> {
  let summary = "batch normalization with running statistics (inference mode)";
  let description = [{
    `y = scale * (x - mean) / sqrt(var + epsilon) + bias` per channel (dimension
    1) of `input` `[N, C, ...]`; `scale`, `bias`, `mean` and `var` are `[C]`.

    Example:

    ```mlir
    %y = gpipe.batch_norm %x, %s, %b, %m, %v {epsilon = 1.0e-05 : f32}
        : (tensor<8x16x4x4xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>)
        -> tensor<8x16x4x4xf32>
    ```
  }];
  let arguments = (ins GPipe_FloatTensor:$input, GPipe_FloatTensor:$scale,
                   GPipe_FloatTensor:$bias, GPipe_FloatTensor:$mean,
                   GPipe_FloatTensor:$var, F32Attr:$epsilon);
  let results = (outs GPipe_FloatTensor:$output);
}

def GPipe_BatchNormTrainOp : GPipe_InferOp<"batch_norm_train", [SameOperandsElementType, GPipe_Differentiable]> {
  let summary = "batch normalization with batch statistics (training mode)";
  let description = [{
    Normalizes `input` `[N, C, ...]` per channel with the mean and biased
    variance of the current batch, and returns the updated running statistics
    `running = momentum * running + (1 - momentum) * batch` (ONNX convention:
    `momentum` weighs the old value). The running variance takes the biased
    batch variance, as ONNX specifies, or with `unbiased_var_update` the
    unbiased one (times `n / (n - 1)`), as PyTorch computes it.

    Example:

    ```mlir
    %y, %rm, %rv = gpipe.batch_norm_train %x, %s, %b, %m, %v {epsilon = 1.0e-05 : f32, momentum = 0.9 : f32}
        : (tensor<8x16x4x4xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>)
        -> (tensor<8x16x4x4xf32>, tensor<16xf32>, tensor<16xf32>)
    ```
  }];
  let arguments = (ins GPipe_FloatTensor:$input, GPipe_FloatTensor:$scale,
                   GPipe_FloatTensor:$bias, GPipe_FloatTensor:$running_mean,
                   GPipe_FloatTensor:$running_var, F32Attr:$epsilon, F32Attr:$momentum,
                   UnitAttr:$unbiased_var_update);
  let results = (outs GPipe_FloatTensor:$output, GPipe_FloatTensor:$new_running_mean,
                  GPipe_FloatTensor:$new_running_var);
}

def GPipe_LayerNormOp : GPipe_InferOp<"layer_norm", [SameOperandsElementType, GPipe_Differentiable]> {
  let summary = "layer normalization over the trailing dimensions";
  let description = [{
    Normalizes `input` over dimensions `[axis, rank)` to zero mean and unit
    variance, then applies `scale` and the optional `bias`, whose shape is
    `input.shape[axis:]`.

    Example:

    ```mlir
    %y = gpipe.layer_norm %x, %g, %b {axis = 2 : i64, epsilon = 1.0e-05 : f32}
        : (tensor<4x16x64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<4x16x64xf32>
    ```
  }];
  let arguments = (ins GPipe_FloatTensor:$input, GPipe_FloatTensor:$scale,
                   Optional<GPipe_FloatTensor>:$bias, I64Attr:$axis, F32Attr:$epsilon);
  let results = (outs GPipe_FloatTensor:$output);
}

class GPipe_SoftmaxLikeOp<string mnemonic, string formula>
    : GPipe_InferOp<mnemonic, [GPipe_Differentiable]> {
  let summary = formula # " along one axis";
  let description = "Computes `" # formula # "` along dimension `axis`.\n\n"
    # "Example:\n\n```mlir\n%y = gpipe." # mnemonic
    # " %x {axis = 1 : i64} : (tensor<8x10xf32>) -> tensor<8x10xf32>\n```";
  let arguments = (ins GPipe_FloatTensor:$input, I64Attr:$axis);
  let results = (outs GPipe_FloatTensor:$output);
}

def GPipe_SoftmaxOp : GPipe_SoftmaxLikeOp<"softmax", "exp(x) / sum(exp(x))">;
def GPipe_LogSoftmaxOp : GPipe_SoftmaxLikeOp<"log_softmax", "x - log(sum(exp(x)))">;

// Not Pure: in training mode without `rng` each execution may draw a new
// mask.
def GPipe_DropoutOp : GPipe_Op<"dropout", [InferTypeOpAdaptor, GPipe_Differentiable]> {
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let summary = "dropout (identity unless training)";
  let description = [{
    With `training`, zeroes each element with probability `ratio` and scales the
    rest by `1 / (1 - ratio)`; the `mask` result says which elements were kept.
    Without `training` it is the identity and the mask is all true.

    The decisions come from a counter-based generator: element `i` is kept
    when a uniform draw that depends only on (`seed`, stream, counter) is at
    least `ratio`. Without the `rng` operand the stream is 0 and the counter
    `i`; without `seed` each execution draws a fresh seed. With `rng`, an
    `i64` tensor `[stream, part]`, the counter is `part * numel + i`: the
    training step passes its step number as the stream, and under pipelining
    micro-batch `m` passes part `m`, so its mask is exactly its rows of the
    whole mini-batch's mask (when the batch is the outermost dimension), and
    a backward that recomputes the forward draws the forward's mask.

    Example:

    ```mlir
    %y, %mask = gpipe.dropout %x {ratio = 0.1 : f32, training = true, seed = 42 : i64}
        : (tensor<4x16xf32>) -> (tensor<4x16xf32>, tensor<4x16xi1>)
    %y2, %mask2 = gpipe.dropout %x, %rng {ratio = 0.1 : f32, training = true, seed = 7 : i64}
        : (tensor<4x16xf32>, tensor<2xi64>) -> (tensor<4x16xf32>, tensor<4x16xi1>)
    ```
  }];
  let arguments = (ins GPipe_FloatTensor:$input, Optional<RankedTensorOf<[I64]>>:$rng,
                   F32Attr:$ratio, BoolAttr:$training, OptionalAttr<I64Attr>:$seed);
  let results = (outs GPipe_FloatTensor:$output, GPipe_BoolTensor:$mask);
  let hasVerifier = 1;
}

#endif // GPIPE_DIALECT_NORMALIZATIONOPS_TD
