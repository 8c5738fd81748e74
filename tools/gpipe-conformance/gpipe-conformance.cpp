//===- gpipe-conformance.cpp - ONNX backend test data through gpipe -------===//
//
// Runs every case of ONNX's backend test data (model.onnx plus
// test_data_set_*/{input,output}_*.pb) through the importer and the CPU
// interpreter and compares the outputs with ONNX's tolerance (rtol 1e-3,
// atol 1e-7). Each case ends as passed, failed, or unsupported (an ONNX op
// or opset gpipe does not claim). Failures listed in --known-failures (with
// their reasons) are expected; any other failure, and any listed case that
// passes, makes the run fail.
//
//===----------------------------------------------------------------------===//

#include "gpipe/Dialect/GPipeDialect.h"
#include "gpipe/Execution/Interpreter.h"
#include "gpipe/Import/ONNXImporter.h"
#include "gpipe/Import/WeightReader.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Regex.h"
#include "llvm/Support/raw_ostream.h"

#include <onnx/onnx_pb.h>

#include <cmath>
#include <cstring>
#include <map>
#include <set>

using namespace mlir;
namespace cl = llvm::cl;

static cl::OptionCategory category("gpipe-conformance options");
static cl::opt<std::string> dataRoot("data-root", cl::desc("ONNX backend test data"),
                                     cl::init("/usr/share/libonnx-testdata/data"),
                                     cl::cat(category));
static cl::list<std::string> suites("suite",
                                    cl::desc("Suites under the root (default: node, "
                                             "pytorch-converted, pytorch-operator, simple)"),
                                    cl::cat(category));
static cl::opt<std::string> knownFailures("known-failures",
                                          cl::desc("File of expected failures: 'CASE  # reason'"),
                                          cl::cat(category));
static cl::opt<std::string> filter("filter", cl::desc("Only cases whose name matches"),
                                   cl::cat(category));
static cl::opt<bool> verbose("v", cl::desc("Print every case"), cl::cat(category));
static cl::opt<double> relTol("rtol", cl::desc("Relative tolerance"), cl::init(1e-3),
                            cl::cat(category));
static cl::opt<double> absTol("atol", cl::desc("Absolute tolerance"), cl::init(1e-7),
                            cl::cat(category));

namespace {
enum class Outcome { Passed, Failed, Unsupported };

struct Result {
  Outcome outcome;
  std::string reason;
};

/// ONNX's test data stores bfloat16 tensors as uint16 (NumPy has no
/// bfloat16); ONNX's own runner reinterprets them, and so does this one.
std::string asDeclaredType(std::string bytes, int32_t declared) {
  if (declared != onnx::TensorProto::BFLOAT16)
    return bytes;
  onnx::TensorProto t;
  if (!t.ParseFromString(bytes) || t.data_type() != onnx::TensorProto::UINT16)
    return bytes;
  t.set_data_type(onnx::TensorProto::BFLOAT16);
  return t.SerializeAsString();
}

bool readFile(StringRef path, std::string &out) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return false;
  out = (*buffer)->getBuffer().str();
  return true;
}

/// Sorted paths of `dir/prefix_<i>.pb` for i = 0, 1, ...
std::vector<std::string> numbered(StringRef dir, StringRef prefix) {
  std::vector<std::string> paths;
  for (int i = 0;; ++i) {
    llvm::SmallString<256> p(dir);
    llvm::sys::path::append(p, prefix + "_" + std::to_string(i) + ".pb");
    if (!llvm::sys::fs::exists(p))
      return paths;
    paths.push_back(p.str().str());
  }
}

template <typename T>
bool closeValues(const T *a, const T *b, int64_t n, std::string &why) {
  for (int64_t i = 0; i < n; ++i) {
    double x = (double)a[i], y = (double)b[i];
    if (std::isnan(x) && std::isnan(y))
      continue;
    if (std::isinf(x) || std::isinf(y)) {
      if (x == y)
        continue;
    } else if (std::fabs(x - y) <= absTol + relTol * std::fabs(y)) {
      continue;
    }
    why = llvm::formatv("element {0}: got {1}, expected {2}", i, x, y).str();
    return false;
  }
  return true;
}

bool compare(const gp_tensor &got, const gpipe::DecodedTensor &want, std::string &why) {
  if (!gpipe::matches(got, want.type)) {
    std::string s;
    llvm::raw_string_ostream os(s);
    os << want.type;
    why = "got " + gpipe::describeTensor(got) + ", expected " + s;
    return false;
  }
  int64_t n = gp_numel(&got);
  const void *a = got.data, *b = want.data.data();
  switch (got.dtype) {
  case GP_F32: return closeValues((const float *)a, (const float *)b, n, why);
  case GP_F64: return closeValues((const double *)a, (const double *)b, n, why);
  case GP_F16: return closeValues((const _Float16 *)a, (const _Float16 *)b, n, why);
  case GP_BF16: {
    // Compare the f32 values the 16-bit patterns stand for.
    std::vector<float> x(n), y(n);
    for (int64_t i = 0; i < n; ++i) {
      uint32_t u = uint32_t(((const uint16_t *)a)[i]) << 16, v = uint32_t(((const uint16_t *)b)[i]) << 16;
      std::memcpy(&x[i], &u, 4);
      std::memcpy(&y[i], &v, 4);
    }
    return closeValues(x.data(), y.data(), n, why);
  }
  default:
    if (std::memcmp(a, b, n * gp_dtype_size(got.dtype)) != 0) {
      why = "integer or boolean values differ";
      return false;
    }
    return true;
  }
}

class Runner {
public:
  Result run(StringRef caseDir);

private:
  Result runDataSet(MLIRContext &context, func::FuncOp func, StringRef dataDir,
                    const std::vector<std::string> &runtimeInputs,
                    const std::vector<int32_t> &inputTypes,
                    const std::vector<int32_t> &outputTypes, gpipe::WeightReader &weights);
};

Result Runner::run(StringRef caseDir) {
  llvm::SmallString<256> modelPath(caseDir);
  llvm::sys::path::append(modelPath, "model.onnx");
  std::string modelBytes;
  if (!readFile(modelPath, modelBytes))
    return {Outcome::Failed, "cannot read model.onnx"};
  onnx::ModelProto model;
  if (!model.ParseFromString(modelBytes))
    return {Outcome::Failed, "model.onnx does not parse"};

  std::vector<std::string> dataDirs;
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(caseDir, ec), end; it != end && !ec;
       it.increment(ec))
    if (llvm::sys::path::filename(it->path()).starts_with("test_data_set_"))
      dataDirs.push_back(it->path());
  llvm::sort(dataDirs);
  if (dataDirs.empty())
    return {Outcome::Failed, "no test_data_set_* directory"};

  // The graph's real inputs, in order.
  llvm::StringSet<> initNames;
  for (const auto &init : model.graph().initializer())
    initNames.insert(init.name());
  std::vector<const onnx::ValueInfoProto *> graphInputs;
  for (const auto &vi : model.graph().input())
    if (!initNames.contains(vi.name()))
      graphInputs.push_back(&vi);

  Result last{Outcome::Passed, ""};
  for (const std::string &dataDir : dataDirs) {
    MLIRContext context;
    context.loadDialect<gpipe::GPipeDialect, func::FuncDialect>();
    std::string firstError;
    ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
      if (diag.getSeverity() == DiagnosticSeverity::Error && firstError.empty())
        firstError = diag.str();
      return success();
    });
    // Integer inputs are specialized into the model: ONNX feeds shapes,
    // axes and indices as data, gpipe wants them at compile time.
    gpipe::ImportOptions options;
    std::vector<std::string> inputFiles = numbered(dataDir, "input");
    if (inputFiles.size() != graphInputs.size())
      return {Outcome::Failed, llvm::formatv("{0} input files for {1} graph inputs",
                                             inputFiles.size(), graphInputs.size())};
    std::vector<std::string> runtimeInputs;
    std::vector<int32_t> runtimeTypes;
    for (auto [vi, file] : llvm::zip(graphInputs, inputFiles)) {
      if (!vi->type().has_tensor_type())
        return {Outcome::Unsupported, "input " + vi->name() + " is not a tensor"};
      std::string bytes;
      gpipe::DecodedTensor decoded;
      std::string error;
      bool read = readFile(file, bytes);
      bytes = asDeclaredType(bytes, vi->type().tensor_type().elem_type());
      if (!read || !gpipe::decodeTensorProto(bytes, &context, decoded, error))
        return {Outcome::Unsupported, "input " + vi->name() + ": " + error};
      const auto &tt = vi->type().tensor_type();
      int32_t elt = tt.elem_type();
      // Scalars too: Clip bounds, Dropout ratios and modes arrive as inputs.
      if (elt == onnx::TensorProto::INT64 || elt == onnx::TensorProto::INT32 ||
          decoded.type.getRank() == 0) {
        options.constantInputs[vi->name()] = bytes;
        continue;
      }
      // Symbolic dimensions take the sizes of the case's data.
      for (auto [i, d] : llvm::enumerate(tt.shape().dim()))
        if (d.has_dim_param() && i < (size_t)decoded.type.getRank())
          options.dims[d.dim_param()] = decoded.type.getDimSize(i);
      runtimeInputs.push_back(file);
      runtimeTypes.push_back(vi->type().tensor_type().elem_type());
    }
    OwningOpRef<ModuleOp> module =
        gpipe::importONNXBuffer(modelBytes, modelPath, &context, options);
    if (!module) {
      StringRef msg(firstError);
      if (msg.contains("unsupported op") || msg.contains("is not supported (gpipe imports"))
        return {Outcome::Unsupported, firstError};
      return {Outcome::Failed, "import: " + firstError};
    }
    auto func = module->lookupSymbol<func::FuncOp>("main");
    gpipe::WeightReader weights;
    std::vector<int32_t> outputTypes;
    for (const auto &out : model.graph().output())
      outputTypes.push_back(out.type().tensor_type().elem_type());
    last = runDataSet(context, func, dataDir, runtimeInputs, runtimeTypes, outputTypes, weights);
    if (last.outcome == Outcome::Failed && last.reason.empty())
      last.reason = firstError;
    if (last.outcome != Outcome::Passed)
      return last;
  }
  return last;
}

Result Runner::runDataSet(MLIRContext &context, func::FuncOp func, StringRef dataDir,
                          const std::vector<std::string> &runtimeInputs,
                          const std::vector<int32_t> &inputTypes,
                          const std::vector<int32_t> &outputTypes,
                          gpipe::WeightReader &weights) {
  std::vector<gpipe::HostTensor> args;
  for (auto [i, file] : llvm::enumerate(runtimeInputs)) {
    std::string bytes, error;
    gpipe::DecodedTensor decoded;
    bool read = readFile(file, bytes);
    bytes = asDeclaredType(bytes, inputTypes[i]);
    if (!read || !gpipe::decodeTensorProto(bytes, &context, decoded, error))
      return {Outcome::Failed, "input: " + error};
    auto tensor = gpipe::HostTensor::allocate(decoded.type);
    if (failed(tensor))
      return {Outcome::Failed, "runtime has no element type for an input"};
    std::memcpy(tensor->data(), decoded.data.data(), decoded.data.size());
    args.push_back(std::move(*tensor));
  }
  gpipe::ParamStore params([&](gpipe::ParamOp param, gpipe::HostTensor &dst,
                               std::string &error) {
    return weights.read(*param.getFile(), *param.getInitializer(),
                        cast<RankedTensorType>(param.getType()), dst.data(), error);
  });
  auto results = gpipe::interpret(func, std::move(args), params);
  if (failed(results))
    return {Outcome::Failed, ""};
  std::vector<std::string> outputFiles = numbered(dataDir, "output");
  if (outputFiles.size() != results->size())
    return {Outcome::Failed, llvm::formatv("{0} outputs, {1} expected", results->size(),
                                           outputFiles.size())};
  for (auto [i, file] : llvm::enumerate(outputFiles)) {
    std::string bytes, error;
    gpipe::DecodedTensor want;
    bool read = readFile(file, bytes);
    if (i < outputTypes.size())
      bytes = asDeclaredType(bytes, outputTypes[i]);
    if (!read || !gpipe::decodeTensorProto(bytes, &context, want, error))
      return {Outcome::Failed, "expected output: " + error};
    std::string why;
    if (!compare(*(*results)[i].view(), want, why))
      return {Outcome::Failed, llvm::formatv("output {0}: {1}", i, why)};
  }
  return {Outcome::Passed, ""};
}

/// Reads "case  # reason" lines; blank lines and '#' lines are comments.
bool readKnownFailures(StringRef path, std::map<std::string, std::string> &out) {
  std::string text;
  if (!readFile(path, text))
    return false;
  for (StringRef line : llvm::split(StringRef(text), '\n')) {
    line = line.trim();
    if (line.empty() || line.starts_with("#"))
      continue;
    auto [name, reason] = line.split('#');
    out[name.trim().str()] = reason.trim().str();
  }
  return true;
}
} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM y(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv, "ONNX backend conformance of gpipe\n");
  auto fail = [](const llvm::Twine &msg) {
    llvm::errs() << "gpipe-conformance: error: " << msg << "\n";
    return 1;
  };
  std::map<std::string, std::string> known;
  if (!knownFailures.empty() && !readKnownFailures(knownFailures, known))
    return fail("cannot read known failures '" + knownFailures + "'");
  std::vector<std::string> suiteNames(suites.begin(), suites.end());
  if (suiteNames.empty())
    suiteNames = {"node", "pytorch-converted", "pytorch-operator", "simple"};
  std::optional<llvm::Regex> regex;
  if (!filter.empty())
    regex.emplace(filter);

  struct Counts {
    int passed = 0, failed = 0, knownFailed = 0, unsupported = 0;
  };
  std::map<std::string, Counts> bySuite;
  std::map<std::string, int> unsupportedReasons;
  std::vector<std::string> unexpected, fixed;
  std::set<std::string> seen;
  Runner runner;
  for (const std::string &suite : suiteNames) {
    llvm::SmallString<256> dir(dataRoot);
    llvm::sys::path::append(dir, suite);
    if (!llvm::sys::fs::is_directory(dir))
      return fail("no test suite at '" + dir.str() + "' (install libonnx-testdata)");
    std::vector<std::string> cases;
    std::error_code ec;
    for (llvm::sys::fs::directory_iterator it(dir, ec), end; it != end && !ec; it.increment(ec))
      cases.push_back(it->path());
    llvm::sort(cases);
    Counts &counts = bySuite[suite];
    for (const std::string &caseDir : cases) {
      std::string name = suite + "/" + llvm::sys::path::filename(caseDir).str();
      if (regex && !regex->match(name))
        continue;
      llvm::SmallString<256> model(caseDir);
      llvm::sys::path::append(model, "model.onnx");
      if (!llvm::sys::fs::exists(model))
        continue;
      seen.insert(name);
      Result r = runner.run(caseDir);
      bool isKnown = known.count(name);
      const char *tag = "PASS";
      switch (r.outcome) {
      case Outcome::Passed:
        ++counts.passed;
        if (isKnown) {
          fixed.push_back(name);
          tag = "PASS (listed as a known failure)";
        }
        break;
      case Outcome::Unsupported:
        ++counts.unsupported;
        ++unsupportedReasons[r.reason.substr(0, r.reason.find(" ("))];
        tag = "UNSUPPORTED";
        break;
      case Outcome::Failed:
        if (isKnown) {
          ++counts.knownFailed;
          tag = "KNOWN FAILURE";
        } else {
          ++counts.failed;
          unexpected.push_back(name + ": " + r.reason);
          tag = "FAIL";
        }
        break;
      }
      if (verbose || (r.outcome == Outcome::Failed && !isKnown))
        llvm::outs() << tag << ": " << name << (r.reason.empty() ? "" : ": ") << r.reason << "\n";
    }
  }
  for (const auto &entry : known)
    if (!seen.count(entry.first) && !regex)
      llvm::outs() << "note: known failure " << entry.first << " is not in the data\n";

  Counts total;
  llvm::outs() << llvm::formatv("\n{0,-20} {1,8} {2,8} {3,8} {4,12}\n", "suite", "passed",
                                "failed", "known", "unsupported");
  for (const auto &[suite, c] : bySuite) {
    llvm::outs() << llvm::formatv("{0,-20} {1,8} {2,8} {3,8} {4,12}\n", suite, c.passed,
                                  c.failed, c.knownFailed, c.unsupported);
    total.passed += c.passed;
    total.failed += c.failed;
    total.knownFailed += c.knownFailed;
    total.unsupported += c.unsupported;
  }
  llvm::outs() << llvm::formatv("{0,-20} {1,8} {2,8} {3,8} {4,12}\n", "total", total.passed,
                                total.failed, total.knownFailed, total.unsupported);
  if (verbose) {
    llvm::outs() << "\nunsupported, by reason:\n";
    for (const auto &[reason, n] : unsupportedReasons)
      llvm::outs() << llvm::formatv("  {0,4}  {1}\n", n, reason);
  }
  for (const std::string &name : fixed)
    llvm::outs() << "error: " << name << " passes but is listed as a known failure\n";
  llvm::outs() << llvm::formatv("conformance: {0} passed, {1} failed, {2} skipped\n",
                                total.passed, total.failed + (int)fixed.size(),
                                total.unsupported + total.knownFailed);
  return unexpected.empty() && fixed.empty() ? 0 : 1;
}
