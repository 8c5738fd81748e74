//===- gpipe-run.cpp - run a gpipe model on the CPU -----------------------===//
//
// gpipe-run model.{mlir,onnx,onnxtxt} --input NAME=FILE.npy ... --output-dir DIR
//
// Imports the model when it is ONNX, runs its function with the CPU
// interpreter, loads parameters from the ONNX files the module names, and
// writes every result to DIR/<result name>.npy.
//
//===----------------------------------------------------------------------===//

#include "gpipe/Dialect/GPipeDialect.h"
#include "gpipe/Execution/Interpreter.h"
#include "gpipe/Import/ONNXImporter.h"
#include "gpipe/Import/WeightReader.h"
#include "gpipe/Support/ToolSupport.h"
#include "gpipe/Support/TrainingCommandLine.h"
#include "gpipe/Transforms/Passes.h"
#include "Training.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>

using namespace mlir;
namespace cl = llvm::cl;

static cl::OptionCategory category("gpipe-run options");
static cl::opt<std::string> inputFile(cl::Positional, cl::Required,
                                      cl::desc("<model.mlir | model.onnx | model.onnxtxt>"),
                                      cl::cat(category));
static cl::list<std::string> inputs("input", cl::desc("Bind a model input to a .npy file"),
                                    cl::value_desc("name=file.npy"), cl::cat(category));
static cl::opt<std::string> outputDir("output-dir",
                                      cl::desc("Where to write <output name>.npy (created); with "
                                               "--train-steps, the last loss as loss.npy and the trained parameters as params/<initializer>.npy"),
                                      cl::value_desc("dir"), cl::init("."), cl::cat(category));
static cl::opt<std::string> functionName("function", cl::desc("Function to run"),
                                         cl::init("main"), cl::cat(category));
static cl::opt<int64_t> batchSize("batch-size",
                                  cl::desc("ONNX only: bind symbolic leading dimensions"),
                                  cl::init(0), cl::cat(category));
static cl::list<std::string> dims("dim", cl::desc("ONNX only: bind a symbolic dimension"),
                                  cl::value_desc("name=size"), cl::cat(category));
static cl::list<std::string> expects(
    "expect", cl::desc("Compare an output with a reference .npy (relative error)"),
    cl::value_desc("name=ref.npy"), cl::cat(category));
static cl::opt<double> maxRelError("max-rel-error",
                                   cl::desc("Largest relative error --expect accepts"),
                                   cl::init(1e-5), cl::cat(category));
static cl::opt<bool> printOutputs("print-outputs",
                                  cl::desc("Also print every output as text"),
                                  cl::cat(category));
static cl::opt<unsigned> repeat("repeat",
                               cl::desc("Time N more forward runs after a warm-up one and "
                                        "print the median (parameters loaded once)"),
                               cl::init(0), cl::cat(category));
static cl::opt<bool> profileOps("profile",
                                cl::desc("With --repeat: print the time spent per op kind"),
                                cl::cat(category));
static cl::OptionCategory trainCategory("gpipe-run training options");
static cl::opt<unsigned> trainSteps("train-steps",
                                    cl::desc("Train for N steps over mini-batches of the "
                                             "--input arrays and --labels (rows on dimension 0)"),
                                    cl::init(0), cl::cat(trainCategory));
static cl::opt<std::string> labels("labels", cl::desc("Training labels (.npy)"),
                                   cl::value_desc("file.npy"), cl::cat(trainCategory));
static cl::list<std::string> evalInputs("eval-input",
                                        cl::desc("After training: evaluation data (.npy)"),
                                        cl::value_desc("name=file.npy"), cl::cat(trainCategory));
static cl::opt<std::string> evalLabels("eval-labels",
                                       cl::desc("After training: class labels; prints accuracy"),
                                       cl::value_desc("file.npy"), cl::cat(trainCategory));
static cl::opt<unsigned> shuffleSeed("shuffle",
                                     cl::desc("Shuffle the training rows each epoch with this seed"),
                                     cl::cat(trainCategory));
static cl::opt<unsigned> logEvery("log-every", cl::desc("Print the loss every N steps"),
                                  cl::init(1), cl::cat(trainCategory));
static cl::opt<std::string> saveFile("save",
                                     cl::desc("After training: write the ONNX model with the "
                                              "trained initializers"),
                                     cl::value_desc("file.onnx"), cl::cat(trainCategory));
static cl::opt<std::string> expectLoss("expect-loss",
                                       cl::desc("After training: compare the last loss with "
                                                "a reference"),
                                       cl::value_desc("file.npy"), cl::cat(trainCategory));
static cl::opt<std::string> expectParams(
    "expect-params-dir",
    cl::desc("After training: compare each parameter with <dir>/<initializer>.npy"),
    cl::value_desc("dir"), cl::cat(trainCategory));
static cl::OptionCategory pipelineCategory("gpipe-run pipelined training options");
static gpipe::TrainingCommandLine training(trainCategory, pipelineCategory);
static auto &lossKind = training.loss;
static auto &optimizerKind = training.optimizer;
static auto &lr = training.lr;
static auto &momentum = training.momentum;
static auto &beta1 = training.beta1;
static auto &beta2 = training.beta2;
static auto &adamEps = training.eps;
static auto &weightDecay = training.weightDecay;
static auto &gradClip = training.gradClip;
static auto &frozen = training.frozen;
static auto &classAxis = training.classAxis;
static auto &microBatches = training.microBatches;
static auto &scheduleKind = training.schedule;
static auto &recomputeKind = training.recompute;
static auto &memoryBudget = training.memoryBudget;
static auto &batchNormMode = training.batchNorm;
static auto &deviceFiles = training.devices;
static auto &balance = training.balance;
static cl::opt<int> stages("stages",
                           cl::desc("Pipelined training over K stages, one thread each "
                                    "(needs an ONNX model, --batch-size and --devices)"),
                           cl::value_desc("K"), cl::init(0), cl::cat(pipelineCategory));
static cl::opt<int> threads("num-threads", cl::desc("CPU threads (default: all cores)"), cl::init(0),
                            cl::cat(category));

namespace {
std::string argName(func::FuncOp func, unsigned i, bool input) {
  auto name = input ? func.getArgAttrOfType<StringAttr>(i, "gpipe.name")
                    : func.getResultAttrOfType<StringAttr>(i, "gpipe.name");
  return name ? name.str() : (input ? "arg" : "result") + std::to_string(i);
}

std::string typeString(Type t) {
  std::string s;
  llvm::raw_string_ostream os(s);
  t.print(os);
  return s;
}

/// ||got - want|| / ||want|| over f32/f64 tensors of one shape; exact
/// comparison (0 or 1) for the other types.
std::optional<double> relativeError(const gp_tensor &got, const gp_tensor &want) {
  if (got.dtype != want.dtype || got.rank != want.rank)
    return std::nullopt;
  for (int32_t i = 0; i < got.rank; ++i)
    if (got.dims[i] != want.dims[i])
      return std::nullopt;
  int64_t n = gp_numel(&got);
  auto at = [&](const gp_tensor &t, int64_t i) {
    return t.dtype == GP_F32 ? (double)static_cast<const float *>(t.data)[i]
                             : static_cast<const double *>(t.data)[i];
  };
  if (got.dtype != GP_F32 && got.dtype != GP_F64)
    return std::memcmp(got.data, want.data, n * gp_dtype_size(got.dtype)) ? 1.0 : 0.0;
  double num = 0, den = 0;
  for (int64_t i = 0; i < n; ++i) {
    double d = at(got, i) - at(want, i);
    num += d * d;
    den += at(want, i) * at(want, i);
  }
  return den == 0 ? std::sqrt(num) : std::sqrt(num / den);
}

/// Prints a tensor as nested brackets with %g-formatted elements.
void printTensor(llvm::raw_ostream &os, const gp_tensor &t) {
  std::vector<int64_t> strides(t.rank, 1);
  for (int32_t d = t.rank - 2; d >= 0; --d)
    strides[d] = strides[d + 1] * t.dims[d + 1];
  auto element = [&](int64_t i) {
    switch (t.dtype) {
    case GP_F32: os << llvm::format("%.7g", (double)static_cast<const float *>(t.data)[i]); break;
    case GP_F64: os << llvm::format("%.15g", static_cast<const double *>(t.data)[i]); break;
    case GP_I64: os << static_cast<const int64_t *>(t.data)[i]; break;
    case GP_I32: os << static_cast<const int32_t *>(t.data)[i]; break;
    case GP_I16: os << static_cast<const int16_t *>(t.data)[i]; break;
    case GP_I8: os << (int)static_cast<const int8_t *>(t.data)[i]; break;
    case GP_U8: os << (int)static_cast<const uint8_t *>(t.data)[i]; break;
    case GP_BOOL: os << (static_cast<const uint8_t *>(t.data)[i] ? "true" : "false"); break;
    case GP_F16:
      os << llvm::format("%.4g", (double)static_cast<const _Float16 *>(t.data)[i]);
      break;
    case GP_BF16: {
      // bf16 is the upper half of an IEEE binary32.
      uint32_t bits = uint32_t(static_cast<const uint16_t *>(t.data)[i]) << 16;
      float f;
      std::memcpy(&f, &bits, sizeof f);
      os << llvm::format("%.3g", (double)f);
      break;
    }
    }
  };
  std::function<void(int32_t, int64_t)> rec = [&](int32_t d, int64_t offset) {
    if (d == t.rank) {
      element(offset);
      return;
    }
    os << "[";
    for (int64_t i = 0; i < t.dims[d]; ++i) {
      if (i)
        os << ", ";
      rec(d + 1, offset + i * strides[d]);
    }
    os << "]";
  };
  rec(0, 0);
}

/// A file name for an output: path separators and colons become '_'.
std::string fileNameFor(StringRef name) {
  std::string s = name.str();
  for (char &c : s)
    if (c == '/' || c == '\\' || c == ':')
      c = '_';
  return s + ".npy";
}
} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM y(argc, argv);
  cl::HideUnrelatedOptions({&category, &trainCategory, &pipelineCategory});
  cl::ParseCommandLineOptions(argc, argv, "gpipe reference executor (CPU)\n");
  auto fail = [](const llvm::Twine &msg) {
    llvm::errs() << "gpipe-run: error: " << msg << "\n";
    return 1;
  };
  if (threads < 0)
    return fail("--num-threads must be >= 0");
  gp_cpu_set_num_threads(threads);

  gpipe::registerGPipePasses();
  MLIRContext context;
  context.loadDialect<gpipe::GPipeDialect, func::FuncDialect>();
  gpipe::OneLineDiagnostics diagnostics(&context, "gpipe-run");

  bool pipelined = stages.getNumOccurrences() > 0;
  if (pipelined) {
    if (stages < 1)
      return fail("--stages must be positive");
    if (microBatches < 1)
      return fail("--micro-batches must be positive");
    if (trainSteps == 0)
      return fail("--stages needs --train-steps");
    if (!gpipe::isONNXPath(inputFile))
      return fail("pipelined training needs an ONNX model: it is compiled at the micro-batch size");
    if (batchSize.getNumOccurrences() == 0)
      return fail("pipelined training needs --batch-size");
    if (batchSize % microBatches != 0)
      return fail(llvm::formatv("--batch-size {0} is not divisible by --micro-batches {1}",
                                batchSize.getValue(), microBatches.getValue())
                      .str());
    if (deviceFiles.empty())
      return fail("pipelined training needs --devices FILE[,FILE...] (e.g. devices/cpu-host.json)");
    if (!gpipe::parseScheduleKind(scheduleKind))
      return fail("--schedule must be gpipe or 1f1b, got '" + scheduleKind + "'");
    if (!gpipe::parseRecomputePolicy(recomputeKind))
      return fail("--recompute must be none, full, except-last or auto, got '" + recomputeKind +
                  "'");
    if (memoryBudget.getNumOccurrences() && recomputeKind != "auto")
      return fail("--memory-budget applies to --recompute auto only");
    if (memoryBudget < 0)
      return fail("--memory-budget must not be negative");
    if (batchNormMode != "micro-batch" && batchNormMode != "deferred")
      return fail("--batch-norm must be micro-batch or deferred, got '" + batchNormMode + "'");
  } else if (training.anyPipelineFlag()) {
    return fail("--micro-batches, --schedule, --recompute, --memory-budget, --batch-norm, "
                "--devices, --balance, --cost-profile and --split-update need --stages");
  }

  OwningOpRef<ModuleOp> module;
  if (gpipe::isONNXPath(inputFile)) {
    gpipe::ImportOptions options;
    // A pipelined model is compiled at the micro-batch size.
    int64_t importBatch = pipelined ? batchSize / microBatches : batchSize.getValue();
    if (auto error = gpipe::parseShapeFlags(importBatch, batchSize.getNumOccurrences() > 0,
                                            dims, options))
      return fail(*error);
    module = gpipe::importONNXFile(inputFile, &context, options);
  } else {
    if (batchSize.getNumOccurrences() || !dims.empty())
      return fail("--batch-size and --dim apply to ONNX models only");
    llvm::SourceMgr sourceMgr;
    std::string error;
    auto buffer = openInputFile(inputFile, &error);
    if (!buffer)
      return fail(error);
    sourceMgr.AddNewSourceBuffer(std::move(buffer), llvm::SMLoc());
    module = parseSourceFile<ModuleOp>(sourceMgr, &context);
  }
  if (!module || diagnostics.errors())
    return 1;

  // Bind inputs by name.
  llvm::StringMap<std::string> files, evalFiles;
  for (auto [list, map] : {std::pair{&inputs, &files}, std::pair{&evalInputs, &evalFiles}})
    for (const std::string &spec : *list) {
      auto [name, path] = StringRef(spec).split('=');
      if (name.empty() || path.empty())
        return fail("--input and --eval-input expect NAME=FILE.npy, got '" + spec + "'");
      if (!map->try_emplace(name, path.str()).second)
        return fail("input '" + name + "' is given twice");
    }

  gpipe::WeightReader weights;
  gpipe::ParamStore params([&](gpipe::ParamOp param, gpipe::HostTensor &dst,
                               std::string &error) {
    return weights.read(*param.getFile(), *param.getInitializer(),
                        cast<RankedTensorType>(param.getType()), dst.data(), error);
  });

  if (trainSteps > 0) {
    gpiperun::TrainingOptions options;
    if (!module->lookupSymbol(options.stepFunction)) {
      gpipe::TrainingFlags flags = training.flags();
      flags.function = functionName;
      flags.evalFunction = options.evalFunction;
      flags.stepFunction = options.stepFunction;
      flags.stages = pipelined ? static_cast<int64_t>(stages) : 0;
      PassManager pm(&context);
      if (failed(parsePassPipeline(gpipe::trainingPassPipeline(flags), pm)) ||
          failed(pm.run(*module)))
        return 1;
    }
    options.inputs = files;
    options.evalInputs = evalFiles;
    options.labelsFile = labels;
    options.evalLabelsFile = evalLabels;
    options.steps = trainSteps;
    options.logEvery = std::max(1u, logEvery.getValue());
    if (shuffleSeed.getNumOccurrences())
      options.shuffleSeed = shuffleSeed;
    options.saveFile = saveFile;
    options.expectLossFile = expectLoss;
    options.expectParamsDir = expectParams;
    options.maxRelError = maxRelError;
    if (outputDir.getNumOccurrences())
      options.outputDir = outputDir;
    if (pipelined) {
      options.stages = stages;
      options.microBatches = microBatches;
      // Each stage reads its parameters with its own reader.
      options.makeStageStore = [] {
        auto reader = std::make_shared<gpipe::WeightReader>();
        return gpipe::ParamStore([reader](gpipe::ParamOp param, gpipe::HostTensor &dst,
                                          std::string &error) {
          return reader->read(*param.getFile(), *param.getInitializer(),
                              cast<RankedTensorType>(param.getType()), dst.data(), error);
        });
      };
    }
    return gpiperun::runTraining(*module, options, params);
  }
  if (!labels.empty() || !evalInputs.empty() || !saveFile.empty())
    return fail("--labels, --eval-input and --save need --train-steps");

  auto func = module->lookupSymbol<func::FuncOp>(functionName);
  if (!func)
    return fail("the module has no function @" + functionName);
  FunctionType type = func.getFunctionType();
  llvm::StringSet<> known;
  std::vector<gpipe::HostTensor> args;
  for (unsigned i = 0; i < type.getNumInputs(); ++i) {
    std::string name = argName(func, i, true);
    known.insert(name);
    auto argType = cast<RankedTensorType>(type.getInput(i));
    auto it = files.find(name);
    if (it == files.end())
      return fail("missing input '" + name + "' (" + typeString(argType) + "): pass --input " +
                  name + "=FILE.npy");
    gp_tensor t;
    if (gp_npy_read(it->second.c_str(), &t) != GP_OK)
      return fail(gp_last_error());
    // Integer ids saved narrower than i64 are widened, as for training.
    if (auto want = gpipe::dtypeFor(argType.getElementType()))
      if (gp_npy_widen(&t, *want) != GP_OK) {
        gp_free(t.data);
        return fail(gp_last_error());
      }
    gpipe::HostTensor tensor = gpipe::HostTensor::adopt(t);
    if (!gpipe::matches(t, argType))
      return fail("input '" + name + "' expects " + typeString(argType) + ", got " +
                  gpipe::describeTensor(t) + " from " + it->second);
    args.push_back(std::move(tensor));
  }
  for (const auto &entry : files)
    if (!known.contains(entry.getKey()))
      return fail("the model has no input '" + entry.getKey().str() + "'");

  auto results = gpipe::interpret(func, args, params);
  if (failed(results))
    return 1;
  if (repeat > 0) {
    std::vector<double> times;
    gpipe::OpProfile profile;
    for (unsigned i = 0; i < repeat; ++i) {
      auto start = std::chrono::steady_clock::now();
      if (failed(gpipe::interpret(func, args, params, profileOps ? &profile : nullptr)))
        return 1;
      times.push_back(std::chrono::duration<double, std::milli>(
                          std::chrono::steady_clock::now() - start)
                          .count());
    }
    std::sort(times.begin(), times.end());
    llvm::outs() << llvm::formatv("forward: {0:f3} ms median over {1} runs ({2} threads)\n",
                                  times[times.size() / 2], repeat, gp_cpu_get_num_threads());
    std::vector<std::pair<double, std::string>> byTime;
    for (const auto &entry : profile)
      byTime.push_back({entry.getValue().first / repeat, entry.getKey().str()});
    llvm::sort(byTime, std::greater<>());
    for (const auto &[ms, name] : byTime)
      llvm::outs() << llvm::formatv("  {0,-28} {1,10:f3} ms per run\n", name, ms);
  }

  int status = 0;
  if (printOutputs)
    for (auto [i, result] : llvm::enumerate(*results)) {
      llvm::outs() << argName(func, i, false) << ": " << gpipe::describeTensor(*result.view())
                   << " = ";
      printTensor(llvm::outs(), *result.view());
      llvm::outs() << "\n";
    }
  llvm::StringMap<unsigned> resultIndex;
  for (unsigned i = 0; i < type.getNumResults(); ++i)
    resultIndex[argName(func, i, false)] = i;
  for (const std::string &spec : expects) {
    auto [name, path] = StringRef(spec).split('=');
    auto it = resultIndex.find(name);
    if (name.empty() || path.empty())
      return fail("--expect expects NAME=FILE.npy, got '" + spec + "'");
    if (it == resultIndex.end())
      return fail("the model has no output '" + name + "'");
    gp_tensor ref;
    if (gp_npy_read(path.str().c_str(), &ref) != GP_OK)
      return fail(gp_last_error());
    gpipe::HostTensor owned = gpipe::HostTensor::adopt(ref);
    const gp_tensor &got = *(*results)[it->second].view();
    auto err = relativeError(got, ref);
    if (!err)
      return fail("output '" + name + "' is " + gpipe::describeTensor(got) + ", reference " +
                  path + " is " + gpipe::describeTensor(ref));
    bool ok = *err <= maxRelError;
    llvm::outs() << llvm::formatv("output '{0}': relative error {1:e2} (limit {2:e0}){3}\n",
                                  name, *err, maxRelError.getValue(), ok ? "" : ": FAIL");
    if (!ok)
      status = 1;
  }

  if (std::error_code ec = llvm::sys::fs::create_directories(outputDir))
    return fail("cannot create output directory '" + outputDir + "': " + ec.message());
  for (auto [i, result] : llvm::enumerate(*results)) {
    llvm::SmallString<256> path(outputDir);
    llvm::sys::path::append(path, fileNameFor(argName(func, i, false)));
    if (gp_npy_write(path.c_str(), result.view()) != GP_OK)
      return fail(gp_last_error());
  }
  return status;
}
