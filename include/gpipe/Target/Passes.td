//===- Passes.td - passes of the code generation targets ---*- tablegen -*-===//

#ifndef GPIPE_TARGET_PASSES_TD
#define GPIPE_TARGET_PASSES_TD

include "mlir/Pass/PassBase.td"

def PrepareCpp : Pass<"gpipe-prepare-cpp", "mlir::ModuleOp"> {
  let summary = "Prepare a pipelined module for the C++ emitter";
  let description = [{
    The first half of `gpipe-translate --emit-cpp` (and of gpipe-compile),
    as a pass: finds the functions the program runs (the stage functions
    the `gpipe.pipeline` op names, `@<step>_update` for its
    `@<step>_loss`, the loss function and, when present, the inference
    function `eval-function`), checks that every tensor they touch has a
    static shape and an element type the runtime knows (a diagnostic on the
    offending op or argument otherwise), and runs `gpipe-plan-memory` on
    them, so each computed tensor has its arena offset. The emitter then
    only reads the IR.

    Example: `gpipe-opt --gpipe-prepare-cpp pipelined.mlir`
  }];
  let options = [
    Option<"evalFunction", "eval-function", "std::string", /*default=*/"\"eval\"",
           "The inference function to include when the module has it">,
  ];
}

#endif // GPIPE_TARGET_PASSES_TD
