//===- ToolSupport.cpp - what gpipe's command-line tools share ------------===//

#include "gpipe/Support/ToolSupport.h"

#include "mlir/IR/Location.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::gpipe;

/// Writes a location the way a user finds it: the ONNX node's name, or the
/// file (with line and column when there are some).
static std::string describe(Location loc) {
  if (auto name = dyn_cast<NameLoc>(loc))
    return "node '" + name.getName().str() + "'";
  if (auto file = dyn_cast<FileLineColLoc>(loc)) {
    std::string s = file.getFilename().str();
    if (file.getLine())
      s += ":" + std::to_string(file.getLine()) + ":" + std::to_string(file.getColumn());
    return s;
  }
  if (auto fused = dyn_cast<FusedLoc>(loc))
    if (!fused.getLocations().empty())
      return describe(fused.getLocations().front());
  std::string s;
  llvm::raw_string_ostream os(s);
  loc.print(os);
  return s;
}

OneLineDiagnostics::OneLineDiagnostics(MLIRContext *context, StringRef tool)
    : tool(tool.str()),
      handler(context, [this](Diagnostic &diag) {
        const char *kind = "note";
        if (diag.getSeverity() == DiagnosticSeverity::Error) {
          ++numErrors;
          kind = "error";
        } else if (diag.getSeverity() == DiagnosticSeverity::Warning) {
          kind = "warning";
        }
        std::string msg = diag.str();
        std::replace(msg.begin(), msg.end(), '\n', ' ');
        llvm::errs() << this->tool << ": " << kind << ": " << describe(diag.getLocation())
                     << ": " << msg << "\n";
        return success();
      }) {}

std::optional<std::string>
mlir::gpipe::parseShapeFlags(int64_t batchSize, bool batchSizeGiven,
                             ArrayRef<std::string> dims, ImportOptions &options) {
  if (batchSizeGiven) {
    if (batchSize <= 0)
      return std::string("--batch-size must be positive");
    options.batchSize = batchSize;
  }
  for (const std::string &d : dims) {
    auto [name, value] = StringRef(d).split('=');
    int64_t size;
    if (name.empty() || value.getAsInteger(10, size) || size <= 0)
      return "--dim expects NAME=SIZE with a positive size, got '" + d + "'";
    options.dims[name] = size;
  }
  return std::nullopt;
}

bool mlir::gpipe::isONNXPath(StringRef path) {
  return path.ends_with(".onnx") || path.ends_with(".onnxtxt");
}

std::string mlir::gpipe::trainingPassPipeline(const TrainingFlags &f) {
  std::string spec;
  llvm::raw_string_ostream os(spec);
  os << "gpipe-fold-linear,gpipe-build-training{function=" << f.function << " eval-function=" << f.evalFunction
     << " step-function=" << f.stepFunction << " loss=" << f.loss
     << " optimizer=" << f.optimizer << " lr=" << f.lr << " momentum=" << f.momentum
     << " beta1=" << f.beta1 << " beta2=" << f.beta2 << " eps=" << f.eps
     << " weight-decay=" << f.weightDecay << " grad-clip=" << f.gradClip
     << " class-axis=" << f.classAxis;
  if (f.stages > 0)
    os << " pipeline-functions=true batch-norm=" << f.batchNorm;
  if (!f.frozen.empty()) {
    os << " frozen=";
    for (auto [i, name] : llvm::enumerate(f.frozen))
      os << (i ? "," : "") << name;
  }
  os << "}";
  if (f.stages > 0) {
    std::string lossFn = f.stepFunction + "_loss";
    os << ",gpipe-partition{function=" << lossFn << " stages=" << f.stages
       << " micro-batches=" << f.microBatches << " schedule=" << f.schedule
       << " recompute=" << (f.recompute != "none" ? "true" : "false")
       << " balance=" << f.balance;
    if (!f.costProfile.empty())
      os << " profile=" << f.costProfile;
    os << " devices=";
    for (auto [i, file] : llvm::enumerate(f.devices))
      os << (i ? "," : "") << file;
    // gpipe-pipeline outlines the stage functions the policy calls.
    os << "},gpipe-pipeline{function=" << lossFn << " micro-batches=" << f.microBatches
       << " schedule=" << f.schedule << " recompute=" << f.recompute;
    if (f.memoryBudget > 0)
      os << " memory-budget=" << llvm::formatv("{0:e}", f.memoryBudget).str();
    os << "}";
    // Each stage updates its own parameters where it can.
    if (f.splitUpdate)
      os << ",gpipe-split-update{function=" << f.stepFunction << "_update}";
  }
  return spec;
}
