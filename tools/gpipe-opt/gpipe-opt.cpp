//===- gpipe-opt.cpp - the gpipe pass driver ------------------------------===//
//
// An mlir-opt for the gpipe dialect: registers only the dialects and passes a
// gpipe pipeline uses.
//
//===----------------------------------------------------------------------===//

#include "gpipe/Dialect/GPipeDialect.h"
#include "gpipe/Target/Passes.h"
#include "gpipe/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  registry.insert<mlir::gpipe::GPipeDialect, mlir::func::FuncDialect>();
  mlir::gpipe::registerGPipePasses();
  mlir::gpipe::registerGPipeTargetPasses();
  mlir::gpipe::registerScheduleSvgPipeline();
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
  mlir::registerSymbolDCEPass();
  mlir::registerInlinerPass();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "gpipe optimizer driver\n", registry));
}
