//===- gpipe-translate.cpp - ONNX in, MLIR out -----------------------------===//
//
// `gpipe-translate --import-onnx model.onnx [--batch-size N] [--dim name=N]`
// prints the model as gpipe dialect IR. Diagnostics are one line each:
// `gpipe-translate: error: <where>: <what>`, and any error exits with 1.
//
//===----------------------------------------------------------------------===//

#include "gpipe/Dialect/GPipeDialect.h"
#include "gpipe/Import/ONNXImporter.h"

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

/// Writes a location the way a user finds it: the ONNX node's name, or the
/// file.
static std::string describe(Location loc) {
  if (auto name = dyn_cast<NameLoc>(loc))
    return "node '" + name.getName().str() + "'";
  if (auto file = dyn_cast<FileLineColLoc>(loc))
    return file.getFilename().str();
  if (auto fused = dyn_cast<FusedLoc>(loc))
    if (!fused.getLocations().empty())
      return describe(fused.getLocations().front());
  std::string s;
  llvm::raw_string_ostream os(s);
  loc.print(os);
  return s;
}

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
  if (batchSize.getNumOccurrences()) {
    if (batchSize <= 0)
      return fail("--batch-size must be positive");
    options.batchSize = batchSize;
  }
  for (const std::string &d : dims) {
    auto [name, value] = llvm::StringRef(d).split('=');
    int64_t size;
    if (name.empty() || value.getAsInteger(10, size) || size <= 0)
      return fail("--dim expects NAME=SIZE with a positive size, got '" + d + "'");
    options.dims[name] = size;
  }

  MLIRContext context;
  context.loadDialect<gpipe::GPipeDialect, func::FuncDialect>();
  int errors = 0;
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
    if (diag.getSeverity() == DiagnosticSeverity::Error)
      ++errors;
    const char *kind = diag.getSeverity() == DiagnosticSeverity::Error     ? "error"
                       : diag.getSeverity() == DiagnosticSeverity::Warning ? "warning"
                                                                           : "note";
    std::string msg = diag.str();
    std::replace(msg.begin(), msg.end(), '\n', ' ');
    llvm::errs() << "gpipe-translate: " << kind << ": " << describe(diag.getLocation())
                 << ": " << msg << "\n";
    return success();
  });

  OwningOpRef<ModuleOp> module =
      gpipe::importONNXFile(inputFile, &context, options);
  if (!module || errors)
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
