//===- gpipe-gradcheck.cpp - gradients against finite differences ---------===//
//
// gpipe-gradcheck cases.mlir
//
// For every function of the file: the loss L = sum_i sum(result_i * W_i)
// with fixed random W_i, its reverse-mode gradient with respect to every
// float argument (gpipe's autodiff, run by the CPU interpreter), and central
// differences (L(x + eps) - L(x - eps)) / 2 eps per element. Prints the
// relative error ||grad - fd|| / ||fd|| per case and fails above the
// tolerance. Cases use f64 so that the differences are accurate.
//
// Argument attributes choose the random inputs: floats are uniform in
// [-1, 1], or [0.5, 2] with `gradcheck.positive`; integers are uniform in
// [0, gradcheck.int_max); booleans are fair coins. `gradcheck.constant`
// leaves a float argument out (operands a rule treats as constants: running
// statistics, class weights).
//
//===----------------------------------------------------------------------===//

#include "gpipe/Dialect/GPipeDialect.h"
#include "gpipe/Dialect/GPipeOps.h"
#include "gpipe/Dialect/GradientBuilder.h"
#include "gpipe/Execution/Interpreter.h"
#include "gpipe/Support/ToolSupport.h"
#include "gpipe/Transforms/Autodiff.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <cstring>
#include <random>

using namespace mlir;
namespace cl = llvm::cl;

static cl::OptionCategory category("gpipe-gradcheck options");
static cl::opt<std::string> inputFile(cl::Positional, cl::Required, cl::desc("<cases.mlir>"),
                                      cl::cat(category));
static cl::opt<double> eps("eps", cl::desc("Finite-difference step"), cl::init(1e-6),
                           cl::cat(category));
static cl::opt<double> tolerance("tolerance", cl::desc("Largest accepted relative error"),
                                 cl::init(1e-6), cl::cat(category));
static cl::opt<unsigned> seed("seed", cl::desc("Random seed"), cl::init(1), cl::cat(category));

namespace {
RankedTensorType typeOf(Value v) { return cast<RankedTensorType>(v.getType()); }

/// Builds @<name>.grad: the weighted-sum loss of `func` and its gradients
/// with respect to the float arguments. Returns null on failure.
func::FuncOp buildCheck(func::FuncOp func, std::mt19937_64 &rng) {
  auto check = cast<func::FuncOp>(func->clone());
  check.setSymName((func.getSymName() + ".grad").str());
  func->getBlock()->getOperations().insertAfter(Block::iterator(func), check);
  Block &body = check.getBody().front();
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  OpBuilder b(ret);
  gpipe::GradientBuilder g(b, ret.getLoc());
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  Value loss;
  for (Value r : ret.getOperands()) {
    auto t = typeOf(r);
    if (!isa<FloatType>(t.getElementType()))
      continue;
    SmallVector<double> w(t.getNumElements());
    for (double &v : w)
      v = uniform(rng);
    Value weights = gpipe::ConstantOp::create(
        b, ret.getLoc(), cast<ElementsAttr>(DenseElementsAttr::get(t, ArrayRef<double>(w))));
    SmallVector<int64_t> all;
    for (int64_t d = 0; d < t.getRank(); ++d)
      all.push_back(d);
    Value prod = g.mul(r, weights);
    Value s = all.empty() ? prod : g.reduceSum(prod, all, /*keepDims=*/false);
    loss = loss ? g.add(loss, s) : s;
  }
  if (!loss) {
    check.emitError("gradcheck: the function has no float result");
    return nullptr;
  }
  SmallVector<Value> wrt;
  for (BlockArgument arg : body.getArguments())
    if (isa<FloatType>(typeOf(arg).getElementType()) &&
        !check.getArgAttr(arg.getArgNumber(), "gradcheck.constant"))
      wrt.push_back(arg);
  auto grads = gpipe::buildGradients(b, loss, wrt);
  if (failed(grads) || g.failed())
    return nullptr;
  SmallVector<Value> results{loss};
  for (auto [arg, grad] : llvm::zip(wrt, *grads))
    results.push_back(grad ? grad : g.splat(typeOf(arg), 0.0));
  func::ReturnOp::create(b, ret.getLoc(), results);
  ret.erase();
  check.setType(FunctionType::get(func.getContext(), body.getArgumentTypes(),
                                  ValueRange(results).getTypes()));
  check.removeResAttrsAttr();
  return check;
}

std::vector<gpipe::HostTensor> randomInputs(func::FuncOp func, std::mt19937_64 &rng) {
  std::vector<gpipe::HostTensor> inputs;
  for (auto [i, type] : llvm::enumerate(func.getArgumentTypes())) {
    auto t = cast<RankedTensorType>(type);
    gpipe::HostTensor h = *gpipe::HostTensor::allocate(t);
    int64_t n = t.getNumElements();
    if (t.getElementType().isF64()) {
      bool positive = bool(func.getArgAttr(i, "gradcheck.positive"));
      std::uniform_real_distribution<double> dist(positive ? 0.5 : -1.0, positive ? 2.0 : 1.0);
      for (int64_t k = 0; k < n; ++k)
        static_cast<double *>(h.data())[k] = dist(rng);
    } else if (t.getElementType().isInteger(1)) {
      for (int64_t k = 0; k < n; ++k)
        static_cast<uint8_t *>(h.data())[k] = rng() & 1;
    } else {
      auto max = func.getArgAttrOfType<IntegerAttr>(i, "gradcheck.int_max");
      int64_t hi = max ? max.getInt() : 2;
      for (int64_t k = 0; k < n; ++k) {
        int64_t v = int64_t(rng() % hi);
        if (h.view()->dtype == GP_I64)
          static_cast<int64_t *>(h.data())[k] = v;
        else
          static_cast<int32_t *>(h.data())[k] = int32_t(v);
      }
    }
    inputs.push_back(std::move(h));
  }
  return inputs;
}

std::vector<gpipe::HostTensor> copyOf(const std::vector<gpipe::HostTensor> &inputs) {
  std::vector<gpipe::HostTensor> out;
  for (const auto &h : inputs) {
    // A fresh buffer: finite differences perturb copies, never the originals.
    gp_tensor view = *h.view();
    void *data = std::malloc(h.bytes() ? h.bytes() : 1);
    std::memcpy(data, view.data, h.bytes());
    view.data = data;
    out.push_back(gpipe::HostTensor::adopt(view));
  }
  return out;
}
} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM y(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv, "gradient check against finite differences\n");
  MLIRContext context;
  context.loadDialect<gpipe::GPipeDialect, func::FuncDialect>();
  gpipe::OneLineDiagnostics diagnostics(&context, "gpipe-gradcheck");
  llvm::SourceMgr sourceMgr;
  std::string error;
  auto buffer = openInputFile(inputFile, &error);
  if (!buffer) {
    llvm::errs() << "gpipe-gradcheck: error: " << error << "\n";
    return 1;
  }
  sourceMgr.AddNewSourceBuffer(std::move(buffer), llvm::SMLoc());
  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(sourceMgr, &context);
  if (!module)
    return 1;

  std::mt19937_64 rng(seed);
  gpipe::ParamStore params(nullptr);
  int failures = 0, cases = 0;
  SmallVector<func::FuncOp> funcs(module->getOps<func::FuncOp>());
  for (func::FuncOp func : funcs) {
    ++cases;
    func::FuncOp check = buildCheck(func, rng);
    if (!check) {
      ++failures;
      continue;
    }
    std::vector<gpipe::HostTensor> inputs = randomInputs(check, rng);
    auto results = gpipe::interpret(check, copyOf(inputs), params);
    if (failed(results)) {
      ++failures;
      continue;
    }
    auto lossAt = [&](std::vector<gpipe::HostTensor> in) -> double {
      auto r = gpipe::interpret(check, std::move(in), params);
      return failed(r) ? NAN : *static_cast<const double *>(r->front().view()->data);
    };
    double num = 0, den = 0;
    size_t gradIndex = 1;
    for (auto [i, input] : llvm::enumerate(inputs)) {
      if (input.view()->dtype != GP_F64 || check.getArgAttr(i, "gradcheck.constant"))
        continue;
      const double *grad = static_cast<const double *>((*results)[gradIndex++].view()->data);
      for (int64_t k = 0, n = gp_numel(input.view()); k < n; ++k) {
        double fd[2];
        for (int side = 0; side < 2; ++side) {
          auto perturbed = copyOf(inputs);
          static_cast<double *>(perturbed[i].data())[k] += side ? -eps : eps;
          fd[side] = lossAt(std::move(perturbed));
        }
        double d = (fd[0] - fd[1]) / (2 * eps);
        num += (grad[k] - d) * (grad[k] - d);
        den += d * d;
      }
    }
    double rel = std::sqrt(num / std::max(den, 1e-24));
    bool ok = rel <= tolerance && std::isfinite(rel);
    llvm::outs() << llvm::formatv("{0} @{1}: relative error {2:e1}\n", ok ? "PASS" : "FAIL",
                                  func.getSymName(), rel);
    failures += !ok;
  }
  llvm::outs() << llvm::formatv("gradcheck: {0} passed, {1} failed\n", cases - failures, failures);
  return failures ? 1 : 0;
}
