//===- gpipe-translate.cpp - ONNX in, MLIR out -----------------------------===//
//
// `gpipe-translate --import-onnx model.onnx [--batch-size N] [--dim name=N]`
// prints the model as gpipe dialect IR. Diagnostics are one line each:
// `gpipe-translate: error: <where>: <what>`, and any error exits with 1.
//
//===----------------------------------------------------------------------===//

#include "gpipe/Dialect/GPipeDialect.h"
#include "gpipe/Import/ONNXImporter.h"
#include "gpipe/Support/ToolSupport.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OperationSupport.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"
#include "mlir/Support/FileUtilities.h"

using namespace mlir;
namespace cl = llvm::cl;

static cl::OptionCategory category("gpipe-translate options");

static cl::opt<std::string> inputFile(cl::Positional, cl::desc("<input file>"),
                                      cl::init("-"), cl::cat(category));
static cl::opt<std::string> outputFile("o", cl::desc("Output file (default: stdout)"),
                                       cl::value_desc("file"), cl::init("-"),
                                       cl::cat(category));
static cl::opt<bool> importOnnx(
    "import-onnx",
    cl::desc("Import an ONNX model (binary .onnx or text .onnxtxt) to the gpipe dialect"),
    cl::cat(category));
static cl::opt<int64_t> batchSize(
    "batch-size",
    cl::desc("Bind every symbolic leading dimension of the inputs to this size"),
    cl::init(0), cl::cat(category));
static cl::list<std::string>
    dims("dim", cl::desc("Bind a symbolic dimension by name: --dim seq=128"),
         cl::value_desc("name=size"), cl::cat(category));
static cl::opt<std::string> functionName("function-name",
                                         cl::desc("Name of the model function"),
                                         cl::init("main"), cl::cat(category));
static cl::opt<bool> debugInfo("mlir-print-debuginfo",
                               cl::desc("Print locations (ONNX node names)"),
                               cl::cat(category));

int main(int argc, char **argv) {
  llvm::InitLLVM y(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv, "gpipe translation tool\n");

  auto fail = [](const llvm::Twine &msg) {
    llvm::errs() << "gpipe-translate: error: " << msg << "\n";
    return 1;
  };
  if (!importOnnx)
    return fail("choose a translation: --import-onnx");

  gpipe::ImportOptions options;
  options.functionName = functionName;
  if (auto error = gpipe::parseShapeFlags(batchSize, batchSize.getNumOccurrences() > 0,
                                          dims, options))
    return fail(*error);

  MLIRContext context;
  context.loadDialect<gpipe::GPipeDialect, func::FuncDialect>();
  gpipe::OneLineDiagnostics diagnostics(&context, "gpipe-translate");

  OwningOpRef<ModuleOp> module =
      gpipe::importONNXFile(inputFile, &context, options);
  if (!module || diagnostics.errors())
    return 1;

  std::string error;
  auto output = openOutputFile(outputFile, &error);
  if (!output)
    return fail(error);
  OpPrintingFlags flags;
  if (debugInfo)
    flags.enableDebugInfo();
  module->print(output->os(), flags);
  output->os() << "\n";
  output->keep();
  return 0;
}
