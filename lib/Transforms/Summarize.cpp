//===- Summarize.cpp - the gpipe-summarize pass ---------------------------===//

#include "gpipe/Dialect/GPipeOps.h"
#include "gpipe/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

namespace mlir::gpipe {
#define GEN_PASS_DEF_SUMMARIZE
#include "gpipe/Transforms/Passes.h.inc"
} // namespace mlir::gpipe

using namespace mlir;
using namespace mlir::gpipe;

namespace {
int64_t byteSize(RankedTensorType t) {
  return t.getNumElements() *
         std::max<int64_t>(1, t.getElementTypeBitWidth() / 8);
}

std::string typeString(Type t) {
  std::string s;
  llvm::raw_string_ostream os(s);
  t.print(os);
  return s;
}

struct SummarizePass : public gpipe::impl::SummarizeBase<SummarizePass> {
  using SummarizeBase::SummarizeBase;

  void runOnOperation() override {
    std::unique_ptr<llvm::raw_fd_ostream> file;
    llvm::raw_ostream *os = &llvm::errs();
    if (!output.empty()) {
      std::error_code ec;
      file = std::make_unique<llvm::raw_fd_ostream>(output, ec,
                                                    llvm::sys::fs::OF_Text);
      if (ec) {
        getOperation().emitError("cannot open summary file '")
            << output << "': " << ec.message();
        return signalPassFailure();
      }
      os = file.get();
    }
    summarize(*os);
    markAllAnalysesPreserved();
  }

  void summarize(llvm::raw_ostream &os) {
    ModuleOp module = getOperation();
    int64_t numParams = 0, numElements = 0, numBytes = 0;
    for (auto param : module.getOps<ParamOp>()) {
      auto type = cast<RankedTensorType>(param.getType());
      ++numParams;
      numElements += type.getNumElements();
      numBytes += byteSize(type);
    }
    os << llvm::formatv("parameters: {0} tensors, {1} elements, {2} bytes\n",
                        numParams, numElements, numBytes);
    for (auto func : module.getOps<func::FuncOp>()) {
      os << "function @" << func.getSymName() << "\n";
      FunctionType type = func.getFunctionType();
      for (auto [i, t] : llvm::enumerate(type.getInputs()))
        os << llvm::formatv("  input  {0}: {1}\n", argName(func, i, true),
                            typeString(t));
      for (auto [i, t] : llvm::enumerate(type.getResults()))
        os << llvm::formatv("  output {0}: {1}\n", argName(func, i, false),
                            typeString(t));
      llvm::MapVector<StringRef, int64_t> counts;
      int64_t total = 0;
      func.walk([&](Operation *op) {
        if (op == func.getOperation())
          return;
        ++counts[op->getName().getStringRef()];
        ++total;
      });
      auto sorted = counts.takeVector();
      llvm::stable_sort(sorted, [](auto &a, auto &b) {
        return a.second != b.second ? a.second > b.second : a.first < b.first;
      });
      os << llvm::formatv("  ops: {0}\n", total);
      for (auto &[name, n] : sorted)
        os << llvm::formatv("    {0,-28} {1,6}\n", name, n);
    }
  }

  static std::string argName(func::FuncOp func, unsigned i, bool input) {
    auto name = input ? func.getArgAttrOfType<StringAttr>(i, "gpipe.name")
                      : func.getResultAttrOfType<StringAttr>(i, "gpipe.name");
    return name ? name.str() : std::to_string(i);
  }
};
} // namespace
