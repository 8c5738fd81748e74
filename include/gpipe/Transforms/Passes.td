//===- Passes.td - gpipe analysis and rewriting passes ---------*- tablegen -*-===//

#ifndef GPIPE_TRANSFORMS_PASSES_TD
#define GPIPE_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def Summarize : Pass<"gpipe-summarize", "mlir::ModuleOp"> {
  let summary = "Print a summary of a model: ops by kind, parameters, inputs";
  let description = [{
    Reports, for every function in the module, its inputs and outputs and how
    many ops of each kind it holds, and for the module the number of
    parameters, their elements and their bytes. The IR is left unchanged, so
    the pass can sit anywhere in a pipeline. The summary goes to standard
    error unless `output` names a file (`-` is standard output).

    Example: `gpipe-opt --gpipe-summarize model.mlir -o /dev/null`
  }];
  let options = [
    Option<"output", "output", "std::string", /*default=*/"\"\"",
           "Where to write the summary (empty: stderr, '-': stdout)">,
  ];
}

#endif // GPIPE_TRANSFORMS_PASSES_TD
