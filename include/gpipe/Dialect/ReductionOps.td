//===- ReductionOps.td - reductions over axes -----------------*- tablegen -*-===//
//
// Sum, mean, max and min over a set of axes.
//
//===----------------------------------------------------------------------===//

#ifndef GPIPE_DIALECT_REDUCTIONOPS_TD
#define GPIPE_DIALECT_REDUCTIONOPS_TD

include "gpipe/Dialect/GPipeBase.td"

class GPipe_ReduceOp<string mnemonic, string what>
    : GPipe_InferOp<mnemonic, [GPipe_Differentiable]> {
  let summary = what # " over axes";
  let description = "Reduces `input` by " # what # " over `axes` (sorted,"
    # " non-negative, unique). `keep_dims` keeps each reduced dimension with"
    # " size 1. An empty `axes` reduces over every dimension.\n\nExample:\n\n"
    # "```mlir\n%y = gpipe." # mnemonic
    # " %x {axes = array<i64: 1>, keep_dims = true} : (tensor<8x10xf32>) -> tensor<8x1xf32>\n```";
  let arguments = (ins GPipe_Tensor:$input, DenseI64ArrayAttr:$axes, BoolAttr:$keep_dims);
  let results = (outs GPipe_Tensor:$output);
}

def GPipe_ReduceSumOp : GPipe_ReduceOp<"reduce_sum", "sum">;
def GPipe_ReduceMeanOp : GPipe_ReduceOp<"reduce_mean", "mean">;
def GPipe_ReduceMaxOp : GPipe_ReduceOp<"reduce_max", "maximum">;
def GPipe_ReduceMinOp : GPipe_ReduceOp<"reduce_min", "minimum">;

#endif // GPIPE_DIALECT_REDUCTIONOPS_TD
