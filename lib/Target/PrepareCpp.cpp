//===- PrepareCpp.cpp - the gpipe-prepare-cpp pass ------------------------===//

#include "gpipe/Target/Cpp.h"
#include "gpipe/Target/Passes.h"

#include "mlir/IR/BuiltinOps.h"

namespace mlir::gpipe {
#define GEN_PASS_DEF_PREPARECPP
#include "gpipe/Target/Passes.h.inc"
} // namespace mlir::gpipe

using namespace mlir;

namespace {
struct PrepareCppPass : public gpipe::impl::PrepareCppBase<PrepareCppPass> {
  using PrepareCppBase::PrepareCppBase;

  void runOnOperation() override {
    gpipe::CppEmitOptions options;
    options.evalFunction = evalFunction;
    if (failed(gpipe::prepareForCpp(getOperation(), options)))
      signalPassFailure();
  }
};
} // namespace
