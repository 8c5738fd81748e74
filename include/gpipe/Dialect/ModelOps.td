//===- ModelOps.td - model parameters --------------------------*- tablegen -*-===//
//
// Parameters as module-level symbols, so that weights stay out of the IR.
//
//===----------------------------------------------------------------------===//

#ifndef GPIPE_DIALECT_MODELOPS_TD
#define GPIPE_DIALECT_MODELOPS_TD

include "gpipe/Dialect/GPipeBase.td"

def GPipe_ParamResource : Resource<"::mlir::gpipe::ParamResource">;

def GPipe_ParamOp : GPipe_Op<"param", [Symbol, IsolatedFromAbove]> {
  let summary = "a model parameter or a piece of training state";
  let description = [{
    Declares a tensor of the program's state: a model parameter (an ONNX
    initializer) or optimizer state. A parameter names where its initial
    values are stored: `file` is the ONNX model (absolute path) and
    `initializer` the initializer's name in it; the IR never holds the values.
    State that starts at zero (optimizer moments, step counters) has
    `zero_init` instead. `trainable` marks the parameters the training step
    updates.

    Example:

    ```mlir
    gpipe.param @fc1.weight : tensor<128x784xf32> {file = "/models/mlp.onnx", initializer = "fc1.weight", trainable}
    gpipe.param @fc1.weight.adam_m : tensor<128x784xf32> {zero_init}
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, TypeAttrOf<GPipe_Tensor>:$type,
                   OptionalAttr<StrAttr>:$file, OptionalAttr<StrAttr>:$initializer,
                   UnitAttr:$zero_init, UnitAttr:$trainable);
  let assemblyFormat = "$sym_name `:` $type attr-dict";
  let hasVerifier = 1;
}

def GPipe_GetParamOp : GPipe_Op<"get_param",
    [DeclareOpInterfaceMethods<SymbolUserOpInterface>,
     MemoryEffects<[MemRead<GPipe_ParamResource>]>]> {
  let summary = "the current value of a parameter";
  let description = [{
    Reads the parameter `name`; the result type is the parameter's type. It
    sees the value of the latest `gpipe.set_param` executed before it.

    Example:

    ```mlir
    %w = gpipe.get_param @fc1.weight : tensor<128x784xf32>
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$name);
  let results = (outs GPipe_Tensor:$output);
  let assemblyFormat = "$name attr-dict `:` type($output)";
}

def GPipe_SetParamOp : GPipe_Op<"set_param",
    [DeclareOpInterfaceMethods<SymbolUserOpInterface>,
     MemoryEffects<[MemWrite<GPipe_ParamResource>]>]> {
  let summary = "replace the value of a parameter";
  let description = [{
    Stores `value` as the new value of parameter `name` (an optimizer update,
    a running statistic, a step counter). The value must have the
    parameter's type.

    Example:

    ```mlir
    gpipe.set_param @fc1.weight, %new : tensor<128x784xf32>
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$name, GPipe_Tensor:$value);
  let assemblyFormat = "$name `,` $value attr-dict `:` type($value)";
}

#endif // GPIPE_DIALECT_MODELOPS_TD
