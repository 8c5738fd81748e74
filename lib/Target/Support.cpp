//===- Support.cpp - the program's functions, literals and names ---------===//
//
// For the C++/CUDA emitter: which functions the program runs, and how types,
// values, names and locations are written in the generated source.
//
//===----------------------------------------------------------------------===//

#include "Emitter.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>
#include <cstdio>

using namespace mlir;
using namespace mlir::gpipe;

namespace mlir::gpipe::emitter {


FailureOr<ProgramFunctions> findProgram(ModuleOp module, const CppEmitOptions &options) {
  ProgramFunctions program;
  for (auto op : module.getOps<PipelineOp>()) {
    if (program.pipeline)
      return op.emitOpError(kCannot) << "the module holds more than one gpipe.pipeline op";
    program.pipeline = op;
  }
  if (!program.pipeline)
    return module.emitError("cannot emit C++: the module has no gpipe.pipeline op (run "
                            "gpipe-pipeline first)");
  std::string error;
  FailureOr<Schedule> schedule = scheduleFromIR(program.pipeline, error);
  if (failed(schedule))
    return program.pipeline.emitOpError(kCannot) << error;
  program.schedule = std::move(*schedule);
  if (program.schedule.functions.size() != static_cast<size_t>(program.schedule.stages) ||
      program.schedule.programs.size() != static_cast<size_t>(program.schedule.stages))
    return program.pipeline.emitOpError(kCannot) << "the stage programs name no functions";

  auto add = [&](StringRef name, Operation *user) -> FailureOr<func::FuncOp> {
    auto fn = module.lookupSymbol<func::FuncOp>(name);
    if (!fn || fn.isDeclaration())
      return user->emitOpError(kCannot) << "no function @" << name << " with a body";
    if (!program.index.count(name)) {
      program.index[name] = program.functions.size();
      program.functions.push_back(fn);
    }
    return fn;
  };
  StringRef lossName = program.pipeline.getFunction();
  FailureOr<func::FuncOp> loss = add(lossName, program.pipeline);
  if (failed(loss))
    return failure();
  program.loss = *loss;
  std::string updateName =
      (lossName.ends_with("_loss") ? lossName.drop_back(5) : lossName).str() + "_update";
  FailureOr<func::FuncOp> update = add(updateName, program.pipeline);
  if (failed(update))
    return failure();
  program.update = *update;
  std::string weightName =
      (lossName.ends_with("_loss") ? lossName.drop_back(5) : lossName).str() + "_loss_weight";
  if (module.lookupSymbol<func::FuncOp>(weightName)) {
    FailureOr<func::FuncOp> weight = add(weightName, program.pipeline);
    if (failed(weight))
      return failure();
    program.lossWeight = *weight;
  }
  // The per-stage updates of gpipe-split-update, if it split the update.
  bool split = false;
  for (int s = 0; s < program.schedule.stages; ++s) {
    std::string name = updateName + "_stage" + std::to_string(s);
    func::FuncOp fn;
    if (module.lookupSymbol<func::FuncOp>(name)) {
      FailureOr<func::FuncOp> added = add(name, program.pipeline);
      if (failed(added))
        return failure();
      fn = *added, split = true;
    }
    program.stageUpdates.push_back(fn);
  }
  if (!split)
    program.stageUpdates.clear();
  else if (module.lookupSymbol<func::FuncOp>(updateName + "_shared")) {
    FailureOr<func::FuncOp> shared = add(updateName + "_shared", program.pipeline);
    if (failed(shared))
      return failure();
    program.sharedUpdate = *shared;
  }
  for (const StageFunctions &stage : program.schedule.functions)
    for (const std::string *name :
         {&stage.forward, &stage.backward, &stage.forwardKeep, &stage.backwardKeep})
      if (!name->empty() && failed(add(*name, program.pipeline)))
        return failure();
  if (!options.evalFunction.empty()) {
    auto eval = module.lookupSymbol<func::FuncOp>(options.evalFunction);
    if (eval && !eval.isDeclaration() && !program.index.count(options.evalFunction)) {
      program.eval = eval;
      program.index[options.evalFunction] = program.functions.size();
      program.functions.push_back(eval);
    }
  }
  return program;
}

//===----------------------------------------------------------------------===//
// Types and literals
//===----------------------------------------------------------------------===//

std::optional<StringRef> dtypeName(Type t) {
  if (t.isF32())
    return StringRef("GP_F32");
  if (t.isF64())
    return StringRef("GP_F64");
  if (t.isF16())
    return StringRef("GP_F16");
  if (t.isBF16())
    return StringRef("GP_BF16");
  if (auto i = dyn_cast<IntegerType>(t)) {
    if (i.isUnsigned())
      return i.getWidth() == 8 ? std::optional<StringRef>("GP_U8") : std::nullopt;
    switch (i.getWidth()) {
    case 1: return StringRef("GP_BOOL");
    case 8: return StringRef("GP_I8");
    case 16: return StringRef("GP_I16");
    case 32: return StringRef("GP_I32");
    case 64: return StringRef("GP_I64");
    }
  }
  return std::nullopt;
}

StringRef storageType(Type t) {
  if (t.isF32())
    return "float";
  if (t.isF64())
    return "double";
  if (t.isF16() || t.isBF16())
    return "uint16_t";
  auto i = cast<IntegerType>(t);
  if (i.getWidth() == 1 || i.isUnsigned())
    return "uint8_t";
  switch (i.getWidth()) {
  case 8: return "int8_t";
  case 16: return "int16_t";
  case 32: return "int32_t";
  default: return "int64_t";
  }
}

std::string unsupportedType(Type type) {
  auto t = dyn_cast<RankedTensorType>(type);
  if (!t)
    return llvm::formatv("{0} is not a ranked tensor", type).str();
  if (!t.hasStaticShape())
    return llvm::formatv("{0} has a dynamic shape", type).str();
  if (t.getRank() > 8)
    return llvm::formatv("{0} has more than 8 dimensions", type).str();
  if (!dtypeName(t.getElementType()))
    return llvm::formatv("the runtime has no element type {0}", t.getElementType()).str();
  return "";
}

std::string floatLiteral(double v, bool single) {
  if (std::isnan(v))
    return "NAN";
  if (std::isinf(v))
    return v < 0 ? "-INFINITY" : "INFINITY";
  char buf[64];
  std::snprintf(buf, sizeof buf, single ? "%.9g" : "%.17g", v);
  std::string s = buf;
  if (s.find_first_of(".e") == std::string::npos)
    s += ".0";
  return single ? s + "f" : s;
}

std::string intLiteral(int64_t v) {
  if (v == INT64_MIN)
    return "INT64_MIN";
  return std::to_string(v);
}

std::string intLiteral(uint64_t v) { return intLiteral(static_cast<int64_t>(v)); }

std::string boolLiteral(bool b) { return b ? "true" : "false"; }

/// A C string literal; bytes outside printable ASCII as octal escapes.
std::string cString(StringRef s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c >= 0x20 && c < 0x7f && c != '?') {
      out += c;
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\%03o", c);
      out += buf;
    }
  }
  return out + "\"";
}

std::string dimsList(ArrayRef<int64_t> dims) {
  std::string s = "{";
  for (auto [i, d] : llvm::enumerate(dims))
    s += (i ? ", " : "") + intLiteral(d);
  return s + "}";
}

std::string shapeFields(Type type) {
  auto t = cast<RankedTensorType>(type);
  return llvm::formatv("{0}, {1}, {2}", *dtypeName(t.getElementType()), t.getRank(),
                       dimsList(t.getShape()))
      .str();
}

std::string identifier(StringRef name) {
  std::string s;
  for (char c : name)
    s += llvm::isAlnum(c) ? c : '_';
  return s;
}

std::optional<std::string> nodeName(Location loc) {
  if (auto name = dyn_cast<NameLoc>(loc))
    return name.getName().str();
  if (auto fused = dyn_cast<FusedLoc>(loc)) {
    for (Location l : fused.getLocations())
      if (auto n = nodeName(l))
        return n;
    return std::nullopt;
  }
  if (auto call = dyn_cast<CallSiteLoc>(loc))
    return nodeName(call.getCallee());
  return std::nullopt;
}

const char *lossReduction(LossReduction r) {
  switch (r) {
  case LossReduction::None: return "GP_LOSS_NONE";
  case LossReduction::Sum: return "GP_LOSS_SUM";
  case LossReduction::Mean: return "GP_LOSS_MEAN";
  }
  return "GP_LOSS_MEAN";
}

std::string whereOf(Operation *op) {
  std::string where = op->getName().getStringRef().str();
  if (auto node = nodeName(op->getLoc()))
    where = *node + " (" + where + ")";
  return where;
}

} // namespace mlir::gpipe::emitter
