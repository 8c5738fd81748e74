//===- gpipe-translate.cpp - ONNX in, MLIR out; MLIR in, C++ out -----------===//
//
// `gpipe-translate --import-onnx model.onnx [--batch-size N] [--dim name=N]`
// prints the model as gpipe dialect IR; `gpipe-translate --emit-cpp
// pipelined.mlir` prints the pipelined training step as a C++ program
// (gpipe/Target/Cpp.h). Diagnostics are one line each:
// `gpipe-translate: error: <where>: <what>`, and any error exits with 1.
//
//===----------------------------------------------------------------------===//

#include "gpipe/Dialect/GPipeDialect.h"
#include "gpipe/Import/ONNXImporter.h"
#include "gpipe/Support/ToolSupport.h"
#include "gpipe/Target/Cpp.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OperationSupport.h"
#include "mlir/Parser/Parser.h"
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
static cl::opt<bool> emitCppFlag(
    "emit-cpp",
    cl::desc("Emit the pipelined training step of a gpipe module (after gpipe-pipeline) as a "
             "C++ program for the trainer runtime"),
    cl::cat(category));
static cl::opt<bool> emitCudaFlag(
    "emit-cuda",
    cl::desc("Emit the pipelined training step as a CUDA C++ program (for nvcc) on the CUDA "
             "runtime: gp_cuda_* kernels, fused elementwise chains as generated kernels"),
    cl::cat(category));
static cl::opt<std::string> precision(
    "precision",
    cl::desc("With --emit-cuda: fp32 (default), tf32, or bf16 (bf16 operands of matrix "
             "products and convolutions, fp32 accumulation and master weights)"),
    cl::init("fp32"), cl::cat(category));
static cl::opt<bool> fuseElementwise(
    "fuse-elementwise",
    cl::desc("With --emit-cpp or --emit-cuda: one loop for each chain of f32 elementwise ops (default on; "
             "=false: a kernel call per op)"),
    cl::init(true), cl::cat(category));
static cl::opt<std::string> evalFunction(
    "eval-function",
    cl::desc("With --emit-cpp or --emit-cuda: the inference function the program evaluates with, when the "
             "module has it (default eval)"),
    cl::init("eval"), cl::cat(category));
static cl::opt<bool> timeOps(
    "time-ops",
    cl::desc("With --emit-cpp or --emit-cuda: time every op when the trainer runs with --profile (gpipe-compile "
             "does)"),
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

/// `--emit-cpp` / `--emit-cuda`: parses the module, plans its memory and
/// writes the C++ (or CUDA C++).
template <typename Fail> static int emitCppMain(Fail fail) {
  MLIRContext context;
  context.loadDialect<gpipe::GPipeDialect, func::FuncDialect>();
  gpipe::OneLineDiagnostics diagnostics(&context, "gpipe-translate");
  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(inputFile, &context);
  if (!module || diagnostics.errors())
    return 1;
  std::string source;
  llvm::raw_string_ostream os(source);
  gpipe::CppEmitOptions options;
  options.fuseElementwise = fuseElementwise;
  options.evalFunction = evalFunction;
  options.timeOps = timeOps;
  if (emitCudaFlag) {
    options.target = gpipe::CppEmitOptions::Target::Cuda;
    options.precision = precision;
  }
  if (failed(gpipe::emitCpp(*module, os, options)) || diagnostics.errors())
    return 1;
  std::string error;
  auto output = openOutputFile(outputFile, &error);
  if (!output)
    return fail(error);
  output->os() << source;
  output->keep();
  return 0;
}

int main(int argc, char **argv) {
  llvm::InitLLVM y(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv, "gpipe translation tool\n");

  auto fail = [](const llvm::Twine &msg) {
    llvm::errs() << "gpipe-translate: error: " << msg << "\n";
    return 1;
  };
  if (importOnnx + emitCppFlag + emitCudaFlag != 1)
    return fail("choose one translation: --import-onnx, --emit-cpp or --emit-cuda");
  if (!emitCudaFlag && precision.getNumOccurrences())
    return fail("--precision applies to --emit-cuda");
  if (emitCppFlag || emitCudaFlag)
    return emitCppMain(fail);

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
