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

/// Index of the extreme value along one axis; no gradient flows through it.
class GPipe_ArgReduceOp<string mnemonic, string what> : GPipe_InferOp<mnemonic> {
  let summary = "index of the " # what # " along an axis";
  let description = "The position of the " # what # " of `input` along `axis`, as i64;"
    # " the first one on ties, or the last with `select_last_index`. `keep_dims`"
    # " keeps the axis with size 1.\n\nExample:\n\n```mlir\n%i = gpipe." # mnemonic
    # " %x {axis = 1 : i64, keep_dims = false, select_last_index = false}"
    # " : (tensor<8x10xf32>) -> tensor<8xi64>\n```";
  let arguments = (ins GPipe_Tensor:$input, I64Attr:$axis, BoolAttr:$keep_dims,
                   BoolAttr:$select_last_index);
  let results = (outs RankedTensorOf<[I64]>:$output);
}

def GPipe_ArgMaxOp : GPipe_ArgReduceOp<"arg_max", "maximum">;
def GPipe_ArgMinOp : GPipe_ArgReduceOp<"arg_min", "minimum">;

#endif // GPIPE_DIALECT_REDUCTIONOPS_TD
