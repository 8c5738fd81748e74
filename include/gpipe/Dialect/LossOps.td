//===- LossOps.td - training losses ---------------------------*- tablegen -*-===//
//
// The losses ONNX defines and PyTorch exports.
//
//===----------------------------------------------------------------------===//

#ifndef GPIPE_DIALECT_LOSSOPS_TD
#define GPIPE_DIALECT_LOSSOPS_TD

include "gpipe/Dialect/GPipeBase.td"

class GPipe_LossOp<string mnemonic> : GPipe_InferOp<mnemonic, [GPipe_Differentiable]> {
  let results = (outs GPipe_FloatTensor:$loss);
}

def GPipe_SoftmaxCrossEntropyOp : GPipe_LossOp<"softmax_cross_entropy"> {
  let summary = "softmax cross-entropy between scores and class labels";
  let description = [{
    `scores` are `[N, C]` or `[N, C, D1, ...]` logits and `labels` the
    `[N]`/`[N, D1, ...]` class indices. Per element the loss is
    `-weight[label] * log_softmax(scores)[label]`; elements whose label is
    `ignore_index` contribute nothing. `reduction = mean` divides by the sum of
    the weights of the counted elements; `none` returns the per-element losses.

    Example:

    ```mlir
    %l = gpipe.softmax_cross_entropy %x, %t {reduction = #gpipe.reduction<mean>}
        : (tensor<8x10xf32>, tensor<8xi64>) -> tensor<f32>
    ```
  }];
  let arguments = (ins GPipe_FloatTensor:$scores, GPipe_IndexTensor:$labels,
                   Optional<GPipe_FloatTensor>:$weights, GPipe_LossReductionAttr:$reduction,
                   OptionalAttr<I64Attr>:$ignore_index);
}

def GPipe_NllLossOp : GPipe_LossOp<"nll_loss"> {
  let summary = "negative log-likelihood of class labels";
  let description = [{
    `input` holds log-probabilities `[N, C]` or `[N, C, D1, ...]`; per element
    the loss is `-weight[label] * input[label]`, with `ignore_index` and
    `reduction` as in `gpipe.softmax_cross_entropy`.

    Example:

    ```mlir
    %l = gpipe.nll_loss %x, %t {reduction = #gpipe.reduction<mean>}
        : (tensor<8x10xf32>, tensor<8xi64>) -> tensor<f32>
    ```
  }];
  let arguments = (ins GPipe_FloatTensor:$input, GPipe_IndexTensor:$labels,
                   Optional<GPipe_FloatTensor>:$weights, GPipe_LossReductionAttr:$reduction,
                   OptionalAttr<I64Attr>:$ignore_index);
}

#endif // GPIPE_DIALECT_LOSSOPS_TD
