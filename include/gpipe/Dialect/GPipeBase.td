//===- GPipeBase.td - gpipe dialect definition and op classes -*- tablegen -*-===//
//
// The dialect, its enum attributes and the TableGen classes that op families
// derive from.
//
//===----------------------------------------------------------------------===//

#ifndef GPIPE_DIALECT_GPIPEBASE_TD
#define GPIPE_DIALECT_GPIPEBASE_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "gpipe/Dialect/GradientInterface.td"

def GPipe_Dialect : Dialect {
  let name = "gpipe";
  let cppNamespace = "::mlir::gpipe";
  let summary = "Model-level dialect of the gpipe pipeline-parallel training compiler";
  let description = [{
    The `gpipe` dialect holds neural-network models at the level of ONNX
    operators: every op works on statically shaped ranked tensors and infers
    its result type from its operands and attributes. Model parameters are
    module-level symbols (`gpipe.param`) that refer to the ONNX file holding
    their values, so that the IR stays small whatever the size of the weights.
  }];
  let useDefaultAttributePrinterParser = 1;
  let hasConstantMaterializer = 0;
}

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

def GPipe_LossReduction : I32EnumAttr<"LossReduction",
    "how a loss reduces over the batch", [
      I32EnumAttrCase<"None", 0, "none">,
      I32EnumAttrCase<"Sum", 1, "sum">,
      I32EnumAttrCase<"Mean", 2, "mean">]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::gpipe";
}
def GPipe_LossReductionAttr
    : EnumAttr<GPipe_Dialect, GPipe_LossReduction, "reduction"> {
  let assemblyFormat = "`<` $value `>`";
}

def GPipe_GeluApproximation : I32EnumAttr<"GeluApproximation",
    "the formula a GELU uses", [
      I32EnumAttrCase<"None", 0, "none">,
      I32EnumAttrCase<"Tanh", 1, "tanh">]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::gpipe";
}
def GPipe_GeluApproximationAttr
    : EnumAttr<GPipe_Dialect, GPipe_GeluApproximation, "gelu_approximation"> {
  let assemblyFormat = "`<` $value `>`";
}

//===----------------------------------------------------------------------===//
// Type constraints
//===----------------------------------------------------------------------===//

def GPipe_Tensor : RankedTensorOf<[AnyType]>;
def GPipe_FloatTensor : RankedTensorOf<[AnyFloat]>;
def GPipe_NumericTensor : RankedTensorOf<[AnyFloat, AnySignlessInteger, UI8]>;
def GPipe_IndexTensor : RankedTensorOf<[I32, I64]>;
def GPipe_BoolTensor : RankedTensorOf<[I1]>;

//===----------------------------------------------------------------------===//
// Op classes
//===----------------------------------------------------------------------===//

/// Ops with a reverse-mode gradient rule (lib/Dialect/*Grad.cpp).
defvar GPipe_Differentiable = DeclareOpInterfaceMethods<GPipe_DifferentiableOpInterface>;

class GPipe_Op<string mnemonic, list<Trait> traits = []>
    : Op<GPipe_Dialect, mnemonic, traits>;

/// An op whose result types follow from its operands and attributes; the
/// inference lives in C++ (`inferReturnTypes`) and doubles as the verifier.
class GPipe_InferOp<string mnemonic, list<Trait> traits = []>
    : GPipe_Op<mnemonic, !listconcat(traits, [Pure, InferTypeOpAdaptor])> {
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
}

#endif // GPIPE_DIALECT_GPIPEBASE_TD
