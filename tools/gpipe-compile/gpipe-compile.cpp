//===- gpipe-compile.cpp - ONNX model in, training executable out ---------===//
//
// Imports an ONNX model at the micro-batch size, builds its training step,
// partitions and schedules it (the same passes as gpipe-run --stages),
// emits the pipelined program as C++ (gpipe-translate --emit-cpp; for
// --target cuda, CUDA C++ as gpipe-translate --emit-cuda writes it), and
// compiles and links it with the trainer runtime (c++, or nvcc and the CUDA
// trainer) into a standalone executable: no Python and no MLIR at run time.
//
//===----------------------------------------------------------------------===//

#include "gpipe/Dialect/GPipeDialect.h"
#include "gpipe/Dialect/GPipeOps.h"
#include "gpipe/Import/ONNXImporter.h"
#include "gpipe/Support/ToolSupport.h"
#include "gpipe/Support/TrainingCommandLine.h"
#include "gpipe/Target/Cpp.h"
#include "gpipe/Transforms/Passes.h"
#include "CompileConfig.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/ToolOutputFile.h"

using namespace mlir;
namespace cl = llvm::cl;

static cl::OptionCategory category("gpipe-compile options");
static cl::OptionCategory trainCategory("Training");
static cl::OptionCategory pipelineCategory("Pipeline");

static cl::opt<std::string> inputFile(cl::Positional, cl::desc("<model.onnx>"), cl::Required,
                                      cl::cat(category));
static cl::opt<std::string> outputFile("o", cl::desc("The training executable to write"),
                                       cl::value_desc("file"), cl::Required, cl::cat(category));
static cl::opt<std::string> target("target",
                                   cl::desc("cpu (C++ and OpenBLAS) or cuda (CUDA C++ for nvcc, "
                                            "cuBLASLt, cuDNN)"),
                                   cl::init("cpu"), cl::cat(category));
static cl::opt<std::string> cudaArch("cuda-arch",
                                     cl::desc("--target cuda: the GPUs to compile for, e.g. "
                                              "sm_90 (H100/H200, the default) or sm_80 (A100)"),
                                     cl::init("sm_90"), cl::cat(category));
static cl::opt<std::string> precision("precision",
                                      cl::desc("--target cuda: fp32, tf32 (TF32 tensor cores) "
                                               "or bf16 (bf16 operands, fp32 accumulation, "
                                               "fp32 master weights and optimizer state)"),
                                      cl::init("fp32"), cl::cat(category));
static cl::opt<std::string> nvcc("nvcc", cl::desc("--target cuda: the CUDA compiler"),
                                 cl::init(GPIPE_NVCC), cl::cat(category));
static cl::opt<int64_t> batchSize("batch-size",
                                  cl::desc("The mini-batch size (divisible by --micro-batches)"),
                                  cl::Required, cl::cat(category));
static cl::list<std::string> dims("dim", cl::desc("Bind a symbolic dimension (name=size)"),
                                  cl::cat(category));
static cl::opt<std::string> emitSource("emit-source",
                                       cl::desc("Also keep the generated C++ (or CUDA) source "
                                                "here"),
                                       cl::value_desc("file.cpp|file.cu"), cl::cat(category));
static cl::opt<std::string> cxx("cxx", cl::desc("The C++ compiler"), cl::init("c++"),
                                cl::cat(category));
static cl::opt<unsigned> optLevel("opt-level", cl::desc("-O level of the C++ compiler"),
                                  cl::init(2), cl::cat(category));
static cl::opt<bool> verbose("v", cl::desc("Print the compiler command"), cl::cat(category));
static cl::opt<bool> timeOps("time-ops",
                             cl::desc("Build the trainer with op timing, for its --profile "
                                      "(default on; a branch per op when not profiling)"),
                             cl::init(true), cl::cat(category));


static gpipe::TrainingCommandLine training(trainCategory, pipelineCategory);
static cl::opt<int64_t> stages("stages", cl::desc("Pipeline stages (K), one thread each"),
                               cl::init(1), cl::cat(pipelineCategory));

int main(int argc, char **argv) {
  llvm::InitLLVM y(argc, argv);
  cl::HideUnrelatedOptions({&category, &trainCategory, &pipelineCategory});
  cl::ParseCommandLineOptions(argc, argv,
                              "gpipe-compile: an ONNX model in, a pipelined training "
                              "executable out\n");
  auto fail = [](const llvm::Twine &msg) {
    llvm::errs() << "gpipe-compile: error: " << msg << "\n";
    return 1;
  };
  if (target != "cpu" && target != "cuda")
    return fail("--target must be cpu or cuda, got '" + target + "'");
  bool cuda = target == "cuda";
  if (cuda && !GPIPE_HAVE_CUDA)
    return fail("--target cuda: this gpipe was built without the CUDA backend (no CUDA "
                "toolkit with cuDNN and NCCL was found when it was configured)");
  if (!gpipe::cudaPrecision(precision))
    return fail("--precision must be fp32, tf32 or bf16, got '" + precision + "'");
  if (!cuda && (precision.getNumOccurrences() || cudaArch.getNumOccurrences()))
    return fail("--precision and --cuda-arch apply to --target cuda");
  if (!llvm::StringRef(cudaArch).starts_with("sm_") ||
      !llvm::all_of(llvm::StringRef(cudaArch).drop_front(3), llvm::isDigit) ||
      cudaArch.size() < 5)
    return fail("--cuda-arch must name a GPU architecture such as sm_90, got '" + cudaArch + "'");
  // The runtime's kernels must exist for the GPU (its PTX runs on newer ones).
  if (cuda) {
    llvm::SmallVector<llvm::StringRef> built;
    llvm::SplitString(GPIPE_CUDA_ARCHITECTURES, built, ",");
    unsigned want = 0, oldest = ~0u;
    llvm::StringRef(cudaArch).drop_front(3).getAsInteger(10, want);
    for (llvm::StringRef arch : built) {
      unsigned n = 0;
      if (!arch.take_while(llvm::isDigit).getAsInteger(10, n))
        oldest = std::min(oldest, n);
    }
    if (want < oldest)
      return fail("--cuda-arch " + cudaArch + ": the CUDA runtime was built for sm_" +
                  llvm::join(built, ", sm_") +
                  " (reconfigure gpipe with -DGPIPE_CUDA_ARCHITECTURES to add it)");
  }
  if (!gpipe::isONNXPath(inputFile))
    return fail("the input must be an ONNX model (.onnx or .onnxtxt), got '" + inputFile + "'");
  int64_t microBatches = training.microBatches;
  if (stages < 1 || microBatches < 1)
    return fail("--stages and --micro-batches must be positive");
  if (batchSize < 1 || batchSize % microBatches != 0)
    return fail(llvm::formatv("--batch-size {0} is not a positive multiple of --micro-batches {1}",
                              batchSize.getValue(), microBatches));
  if (training.memoryBudget.getNumOccurrences() && training.recompute != "auto")
    return fail("--memory-budget applies to --recompute auto only");
  // A bad output path is found before the (long) compile, not by the linker.
  {
    llvm::StringRef dir = llvm::sys::path::parent_path(outputFile.getValue());
    if (dir.empty())
      dir = ".";
    if (!llvm::sys::fs::is_directory(dir))
      return fail("cannot write '" + outputFile + "': no directory '" + dir.str() + "'");
    if (llvm::sys::fs::is_directory(outputFile.getValue()))
      return fail("cannot write '" + outputFile + "': it is a directory");
    if (llvm::sys::fs::access(dir, llvm::sys::fs::AccessMode::Write))
      return fail("cannot write '" + outputFile + "': directory '" + dir.str() +
                  "' is not writable");
  }

  gpipe::registerGPipePasses();
  MLIRContext context;
  context.loadDialect<gpipe::GPipeDialect, func::FuncDialect>();
  gpipe::OneLineDiagnostics diagnostics(&context, "gpipe-compile");

  // The stage functions run on one micro-batch.
  gpipe::ImportOptions importOptions;
  if (auto error =
          gpipe::parseShapeFlags(batchSize / microBatches, true, dims, importOptions))
    return fail(*error);
  OwningOpRef<ModuleOp> module = gpipe::importONNXFile(inputFile, &context, importOptions);
  if (!module || diagnostics.errors())
    return 1;
  // The generated program reads the initializers from this path.
  llvm::SmallString<256> absolute(inputFile);
  llvm::sys::fs::make_absolute(absolute);
  module->walk([&](gpipe::ParamOp param) {
    if (param.getFile())
      param.setFileAttr(StringAttr::get(&context, absolute));
  });

  gpipe::TrainingFlags flags = training.flags();
  flags.stages = stages;
  if (flags.devices.empty())
    flags.devices.push_back(cuda ? GPIPE_DEFAULT_CUDA_DEVICE : GPIPE_DEFAULT_DEVICE);
  PassManager pm(&context);
  if (failed(parsePassPipeline(gpipe::trainingPassPipeline(flags), pm)) ||
      failed(pm.run(*module)))
    return 1;

  // The source: kept where asked, else a temporary file. nvcc tells CUDA
  // sources by their name: a CUDA source kept under another name is
  // compiled from a temporary .cu copy.
  llvm::SmallString<256> source;
  bool temporary = emitSource.empty() || (cuda && !llvm::StringRef(emitSource).ends_with(".cu"));
  if (!temporary) {
    source = emitSource;
  } else if (std::error_code ec = llvm::sys::fs::createTemporaryFile(
                 "gpipe-trainer", cuda ? "cu" : "cpp", source)) {
    return fail("cannot create a temporary file: " + ec.message());
  }
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(source, ec, llvm::sys::fs::OF_Text);
    if (ec)
      return fail("cannot write '" + source + "': " + ec.message());
    gpipe::CppEmitOptions emitOptions;
    emitOptions.timeOps = timeOps;
    if (cuda) {
      emitOptions.target = gpipe::CppEmitOptions::Target::Cuda;
      emitOptions.precision = precision;
    }
    if (failed(gpipe::emitCpp(*module, os, emitOptions)))
      return 1;
  }
  llvm::scope_exit removeSource([&] {
    if (temporary)
      llvm::sys::fs::remove(source);
  });
  if (temporary && !emitSource.empty())
    if (std::error_code ec = llvm::sys::fs::copy_file(source, emitSource))
      return fail("cannot write '" + emitSource + "': " + ec.message());

  llvm::ErrorOr<std::string> compiler =
      llvm::sys::findProgramByName(cuda ? nvcc.getValue() : cxx.getValue());
  if (!compiler)
    return fail(cuda ? "cannot find the CUDA compiler '" + nvcc + "' (--nvcc)"
                     : "cannot find the C++ compiler '" + cxx + "' (--cxx)");
  std::vector<std::string> args = {*compiler, "-std=c++17", "-O" + std::to_string(optLevel)};
  if (cuda) {
    // Host code on the host compiler, device code for the named GPUs.
    args.insert(args.end(),
                {"-arch=" + cudaArch.getValue(), "-cudart", "shared", "-Xcompiler", "-fopenmp"});
  } else {
    args.push_back("-fopenmp");
  }
  args.insert(args.end(), {"-I", GPIPE_RUNTIME_INCLUDE, source.str().str(), "-o",
                           outputFile.getValue()});
  llvm::SmallVector<llvm::StringRef> libs;
  if (cuda)
    llvm::SplitString(GPIPE_CUDA_TRAINER_LIBS, libs, ";");
  llvm::SplitString(GPIPE_TRAINER_LIBS, libs, ";");
  for (llvm::StringRef lib : libs) {
    // nvcc takes .a and .so inputs; a versioned name (libopenblas.so.0)
    // goes to the linker as it is.
    if (cuda && !lib.ends_with(".a") && !lib.ends_with(".so"))
      args.push_back("-Xlinker");
    args.push_back(lib.str());
    // Shared libraries outside the loader's default path (OpenBLAS's
    // OpenMP build) are found through the executable's rpath.
    if (lib.contains(".so")) {
      std::string dir = llvm::sys::path::parent_path(lib).str();
      if (cuda)
        args.insert(args.end(), {"-Xlinker", "-rpath", "-Xlinker", dir});
      else
        args.push_back("-Wl,-rpath," + dir);
    }
  }
  if (cuda) {
    llvm::SmallVector<llvm::StringRef> flags;
    llvm::SplitString(GPIPE_CUDA_LINK_FLAGS, flags, ";");
    for (llvm::StringRef f : flags)
      args.push_back(f.str());
    args.push_back("-lgomp");
  }
  args.push_back("-lpthread");
  std::vector<llvm::StringRef> argRefs(args.begin(), args.end());
  if (verbose) {
    for (llvm::StringRef a : argRefs)
      llvm::errs() << a << " ";
    llvm::errs() << "\n";
  }
  std::string error;
  int rc = llvm::sys::ExecuteAndWait(*compiler, argRefs, std::nullopt, {}, 0, 0, &error);
  if (rc != 0)
    return fail(llvm::Twine(cuda ? "nvcc" : "the C++ compiler") + " failed" +
                (error.empty() ? "" : ": " + error) +
                " (rerun with -v and --emit-source to see the command and the source)");
  return 0;
}
