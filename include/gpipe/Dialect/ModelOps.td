//===- ModelOps.td - model parameters --------------------------*- tablegen -*-===//
//
// Parameters as module-level symbols, so that weights stay out of the IR.
//
//===----------------------------------------------------------------------===//

#ifndef GPIPE_DIALECT_MODELOPS_TD
#define GPIPE_DIALECT_MODELOPS_TD

include "gpipe/Dialect/GPipeBase.td"

def GPipe_ParamOp : GPipe_Op<"param", [Symbol, IsolatedFromAbove]> {
  let summary = "a model parameter whose values live in a file";
  let description = [{
    Declares a parameter (an ONNX initializer): its name, its tensor type and
    where its values are stored. `file` is the ONNX model (absolute path) and
    `initializer` the initializer's name in it; the IR never holds the values.

    Example:

    ```mlir
    gpipe.param @fc1.weight : tensor<128x784xf32> {file = "/models/mlp.onnx", initializer = "fc1.weight"}
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, TypeAttrOf<GPipe_Tensor>:$type,
                   StrAttr:$file, StrAttr:$initializer);
  let assemblyFormat = "$sym_name `:` $type attr-dict";
  let hasVerifier = 1;
}

def GPipe_GetParamOp : GPipe_Op<"get_param",
    [Pure, DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "the current value of a parameter";
  let description = [{
    Reads the parameter `name`; the result type is the parameter's type.

    Example:

    ```mlir
    %w = gpipe.get_param @fc1.weight : tensor<128x784xf32>
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$name);
  let results = (outs GPipe_Tensor:$output);
  let assemblyFormat = "$name attr-dict `:` type($output)";
}

#endif // GPIPE_DIALECT_MODELOPS_TD
