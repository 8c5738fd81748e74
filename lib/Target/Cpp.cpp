//===- Cpp.cpp - the pipelined training step as a C++ program -------------===//
//
// `gpipe-translate --emit-cpp`. The preparation checks the functions the
// program runs and plans their memory (gpipe-plan-memory); the emitter then
// reads the IR and writes one C++17 source against gp_program.h:
//
// - per function a `gp::Function` whose body calls, op by op, the gp_cpu_*
//   kernel the CPU interpreter (lib/Execution/Interpreter.cpp) calls for it,
//   on `gp_tensor`s at the op's `gpipe.arena_offsets` in the function's
//   arena; parameters come from and go to `ctx.params`, constants are static
//   data, and the returned values are copied out of the arena;
// - the `gp::Program` tables: parameters, the functions with their wiring
//   attributes as `gp::ValueSpec`s, the model inputs and the stage programs;
// - `main`, which hands the program to `gp::trainerMain`.
//
// With op timing (CppEmitOptions::timeOps), each kernel call and fused loop
// is timed into `ctx.profile` when the trainer sets it, and each function
// lists its timed ops (ONNX node, op, forward/backward/recomputed phase).
//
// Emitting reads the IR only; an op or type it cannot handle is an error on
// the op, and nothing is written.
//
//===----------------------------------------------------------------------===//

#include "gpipe/Target/Cpp.h"

#include "gpipe/Dialect/GPipeOps.h"
#include "gpipe/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>
#include <cstdio>

using namespace mlir;
using namespace mlir::gpipe;

namespace {

constexpr StringLiteral kCannot = "cannot be emitted as C++: ";

//===----------------------------------------------------------------------===//
// The functions of the program
//===----------------------------------------------------------------------===//

/// What the generated program runs: the pipeline op, its schedule, and the
/// functions in the order the Program lists them (the loss function, the
/// update function, per stage its forward, backward, forward_keep and
/// backward_keep as the schedule names them, then the evaluation function
/// when there is one).
struct ProgramFunctions {
  PipelineOp pipeline;
  Schedule schedule;
  func::FuncOp loss, update, eval;
  SmallVector<func::FuncOp> functions;
  llvm::StringMap<int> index;
};

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

/// The runtime's name of an element type; nullopt for one it lacks.
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

/// The C++ type of one stored element (f16 and bf16 as their bits).
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

/// Why `type` cannot be a tensor of the generated program; empty when it
/// can.
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

/// An I64Attr's value (ODS returns it unsigned).
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

/// `{2, 64}`: the dimensions of a gp_tensor or spec.
std::string dimsList(ArrayRef<int64_t> dims) {
  std::string s = "{";
  for (auto [i, d] : llvm::enumerate(dims))
    s += (i ? ", " : "") + intLiteral(d);
  return s + "}";
}

/// `GP_F32, 2, {2, 64}`: the dtype, rank and dims of a checked type.
std::string shapeFields(Type type) {
  auto t = cast<RankedTensorType>(type);
  return llvm::formatv("{0}, {1}, {2}", *dtypeName(t.getElementType()), t.getRank(),
                       dimsList(t.getShape()))
      .str();
}

/// A C++ identifier for a symbol: other characters become '_'.
std::string identifier(StringRef name) {
  std::string s;
  for (char c : name)
    s += llvm::isAlnum(c) ? c : '_';
  return s;
}

/// The ONNX node an op comes from: the first name in its location.
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

//===----------------------------------------------------------------------===//
// Elementwise fusion
//===----------------------------------------------------------------------===//

/// The C++ expression of an f32 elementwise op on operand expressions `a`
/// (and `b`), exactly as the runtime's kernel computes it; nullopt for an
/// op fusion leaves alone.
std::optional<std::string> fusedExpr(Operation *op, StringRef a, StringRef b) {
  auto f = [&](const char *fmt) { return std::optional<std::string>(llvm::formatv(fmt, a, b)); };
  return llvm::TypeSwitch<Operation *, std::optional<std::string>>(op)
      .Case([&](NegOp) { return f("-{0}"); })
      .Case([&](AbsOp) { return f("{0} < 0.0f ? -{0} : {0}"); })
      .Case([&](SqrtOp) { return f("std::sqrt({0})"); })
      .Case([&](ExpOp) { return f("std::exp({0})"); })
      .Case([&](LogOp) { return f("std::log({0})"); })
      .Case([&](ReciprocalOp) { return f("1.0f / {0}"); })
      .Case([&](ErfOp) { return f("std::erf({0})"); })
      .Case([&](TanhOp) { return f("std::tanh({0})"); })
      .Case([&](SigmoidOp) {
        return f("{0} >= 0.0f ? 1.0f / (1.0f + std::exp(-{0})) : std::exp({0}) / (1.0f + "
                 "std::exp({0}))");
      })
      .Case([&](ReluOp) { return f("{0} > 0.0f ? {0} : 0.0f"); })
      .Case([&](FloorOp) { return f("std::floor({0})"); })
      .Case([&](CeilOp) { return f("std::ceil({0})"); })
      .Case([&](SinOp) { return f("std::sin({0})"); })
      .Case([&](CosOp) { return f("std::cos({0})"); })
      .Case([&](LeakyReluOp o) {
        return std::optional<std::string>(llvm::formatv(
            "{0} >= 0.0f ? {0} : {1} * {0}", a, floatLiteral(o.getAlpha().convertToFloat(), true)));
      })
      .Case([&](AddOp) { return f("{0} + {1}"); })
      .Case([&](SubOp) { return f("{0} - {1}"); })
      .Case([&](MulOp) { return f("{0} * {1}"); })
      .Case([&](DivOp) { return f("{0} / {1}"); })
      .Case([&](MaxOp) { return f("std::isnan({0}) ? {0} : ({0} > {1} ? {0} : {1})"); })
      .Case([&](MinOp) { return f("std::isnan({0}) ? {0} : ({0} < {1} ? {0} : {1})"); })
      .Default([](Operation *) { return std::nullopt; });
}

/// Whether `op` may be part of a fused loop: an elementwise op the loop
/// computes exactly as its kernel, on f32, whose operands are either of the
/// result's shape or single elements (no other broadcasting).
bool fusible(Operation *op) {
  if (op->getNumResults() != 1 || op->getNumOperands() < 1 || op->getNumOperands() > 2 ||
      !fusedExpr(op, "a", "b"))
    return false;
  auto type = dyn_cast<RankedTensorType>(op->getResult(0).getType());
  if (!type || !type.getElementType().isF32() || !type.hasStaticShape())
    return false;
  for (Value v : op->getOperands()) {
    auto t = dyn_cast<RankedTensorType>(v.getType());
    if (!t || !t.getElementType().isF32() || !t.hasStaticShape() ||
        (t != type && t.getNumElements() != 1))
      return false;
  }
  return true;
}

/// A fused loop: `ops` (in block order, the root last) compute the root's
/// result element by element from `leaves`.
struct FusedLoop {
  SmallVector<Operation *> ops;
  SmallVector<Value> leaves;
  /// CUDA: not a loop but a gemm and the relu of its result, one cuBLASLt
  /// call with a relu epilogue (ops = {gemm, relu}).
  bool gemmRelu = false;
};

/// The byte range of `v` in the arena; nullopt outside it.
std::optional<std::pair<int64_t, int64_t>> arenaRange(Value v) {
  auto result = dyn_cast<OpResult>(v);
  if (!result)
    return std::nullopt;
  auto offsets = result.getOwner()->getAttrOfType<DenseI64ArrayAttr>("gpipe.arena_offsets");
  if (!offsets || static_cast<int64_t>(offsets.size()) <= result.getResultNumber() ||
      offsets[result.getResultNumber()] < 0)
    return std::nullopt;
  auto type = cast<RankedTensorType>(v.getType());
  int64_t begin = offsets[result.getResultNumber()];
  return std::make_pair(begin,
                        begin + type.getNumElements() * ((type.getElementTypeBitWidth() + 7) / 8));
}

/// Groups the fusible ops of `block` into loops. Going backward, each
/// fusible op not yet taken roots a loop that takes the ops right before it
/// while each is fusible, of the same type, and used once, by an op of the
/// loop. The loop's ops are consecutive (but for constants and parameter
/// reads), so the tensors they read (planned to live until those ops ran)
/// are intact when the root runs. The root's result, the only tensor the
/// loop writes, may share bytes with a leaf only element for element (the
/// same offset); single-element leaves are read before the loop.
DenseMap<Operation *, FusedLoop> planFusion(Block &block) {
  SmallVector<Operation *> ops;
  for (Operation &op : block)
    ops.push_back(&op);
  DenseMap<Operation *, FusedLoop> loops;
  DenseSet<Operation *> taken;
  for (int i = static_cast<int>(ops.size()) - 1; i >= 0; --i) {
    Operation *root = ops[i];
    if (taken.count(root) || !fusible(root))
      continue;
    Type type = root->getResult(0).getType();
    DenseSet<Operation *> members{root};
    SmallVector<Operation *> loopOps{root};
    for (int j = i - 1; j >= 0; --j) {
      Operation *op = ops[j];
      // Constants and parameter reads write no tensor: the loop reaches
      // over them (they are emitted where they are).
      if (isa<ConstantOp, GetParamOp>(op))
        continue;
      Value r = op->getNumResults() == 1 ? op->getResult(0) : Value();
      if (!r || !fusible(op) || r.getType() != type || !r.hasOneUse() ||
          !members.count(*r.getUsers().begin()))
        break;
      members.insert(op);
      loopOps.push_back(op);
    }
    if (members.size() < 2)
      continue;
    FusedLoop loop;
    loop.ops.assign(loopOps.rbegin(), loopOps.rend());
    llvm::SetVector<Value> leaves;
    for (Operation *op : loop.ops)
      for (Value v : op->getOperands())
        if (!v.getDefiningOp() || !members.count(v.getDefiningOp()))
          leaves.insert(v);
    loop.leaves = leaves.takeVector();
    auto out = arenaRange(root->getResult(0));
    bool safe = out.has_value();
    for (Value leaf : loop.leaves) {
      auto range = arenaRange(leaf);
      bool scalar = cast<RankedTensorType>(leaf.getType()).getNumElements() == 1;
      if (safe && range && !scalar && range->first < out->second && out->first < range->second &&
          range->first != out->first)
        safe = false;
    }
    if (!safe)
      continue;
    for (Operation *op : loop.ops)
      taken.insert(op);
    loops[root] = std::move(loop);
  }
  return loops;
}

/// CUDA: a gemm whose only use is a relu outside any fused loop becomes one
/// cuBLASLt call with a relu epilogue, unless the relu's tensor shares
/// bytes with an operand of the gemm (the call reads them while it
/// writes). A backward that recomputes the relu also reads the gemm's
/// result, so only forwards match.
void planGemmRelu(Block &block, DenseMap<Operation *, FusedLoop> &loops,
                  const DenseSet<Operation *> &inLoop) {
  for (Operation &op : block) {
    auto gemm = dyn_cast<GemmOp>(&op);
    if (!gemm || !gemm.getResult().hasOneUse() ||
        !cast<RankedTensorType>(gemm.getResult().getType()).getElementType().isF32())
      continue;
    auto relu = dyn_cast<ReluOp>(*gemm.getResult().getUsers().begin());
    if (!relu || inLoop.count(relu) || relu->getBlock() != &block)
      continue;
    auto out = arenaRange(relu.getResult());
    bool safe = out.has_value();
    for (Value v : gemm->getOperands()) {
      auto range = arenaRange(v);
      if (safe && range && range->first < out->second && out->first < range->second)
        safe = false;
    }
    if (!safe)
      continue;
    FusedLoop fused;
    fused.ops = {gemm, relu};
    fused.gemmRelu = true;
    loops[relu] = std::move(fused);
  }
}

//===----------------------------------------------------------------------===//
// Op timing
//===----------------------------------------------------------------------===//

/// Whether a program built with op timing times `op`: every op that calls a
/// kernel (constants are static data, parameter reads and writes table
/// lookups, the return a copy-out).
bool timedOp(Operation *op) {
  return !isa<ConstantOp, GetParamOp, SetParamOp, func::ReturnOp>(op);
}

/// The ops of `backward` that recompute an op of `forward`, its stage's
/// forward function of the same pair: value numbering from the arguments
/// both read (the same `gpipe.source`) and the activations the forward
/// keeps for it (`gpipe.kept`), an op of the backward recomputes one of the
/// forward when it is the same op with the same attributes (but for its
/// arena offsets) on the same values. What it does not match (the gradient
/// ops) is the backward's own work.
DenseSet<Operation *> recomputedOps(func::FuncOp forward, func::FuncOp backward) {
  DenseSet<Operation *> recomputed;
  Block &fwd = forward.getBody().front(), &bwd = backward.getBody().front();
  // image[v]: the value of the forward that backward value v equals.
  DenseMap<Value, Value> image;
  for (unsigned i = 0; i < forward.getNumArguments() && i < backward.getNumArguments(); ++i) {
    Attribute source = forward.getArgAttr(i, "gpipe.source");
    if (source && source == backward.getArgAttr(i, "gpipe.source"))
      image[bwd.getArgument(i)] = fwd.getArgument(i);
  }
  Operation *ret = fwd.getTerminator();
  for (unsigned r = 0; r < forward.getNumResults(); ++r)
    if (auto kept = forward.getResultAttrOfType<IntegerAttr>(r, "gpipe.kept"))
      for (unsigned i = 0; i < backward.getNumArguments(); ++i)
        if (auto k = backward.getArgAttrOfType<IntegerAttr>(i, "gpipe.kept");
            k && k.getInt() == kept.getInt())
          image[bwd.getArgument(i)] = ret->getOperand(r);
  DenseMap<Operation *, DictionaryAttr> attrs;
  auto attrsOf = [&](Operation *op) {
    auto [it, inserted] = attrs.try_emplace(op);
    if (inserted) {
      NamedAttrList list(op->getAttrDictionary());
      list.erase("gpipe.arena_offsets");
      it->second = list.getDictionary(op->getContext());
    }
    return it->second;
  };
  DenseMap<OperationName, SmallVector<Operation *>> byName;
  for (Operation &op : fwd.without_terminator())
    byName[op.getName()].push_back(&op);
  for (Operation &op : bwd.without_terminator()) {
    SmallVector<Value> operands;
    for (Value v : op.getOperands())
      operands.push_back(image.lookup(v));
    if (llvm::is_contained(operands, Value()))
      continue;
    auto it = byName.find(op.getName());
    if (it == byName.end())
      continue;
    for (Operation *candidate : it->second) {
      if (!llvm::equal(candidate->getOperands(), operands) ||
          !llvm::equal(candidate->getResultTypes(), op.getResultTypes()) ||
          attrsOf(candidate) != attrsOf(&op))
        continue;
      for (auto [b, f] : llvm::zip(op.getResults(), candidate->getResults()))
        image[b] = f;
      recomputed.insert(&op);
      break;
    }
  }
  return recomputed;
}

//===----------------------------------------------------------------------===//
// The emitter
//===----------------------------------------------------------------------===//

class Emitter {
public:
  Emitter(ModuleOp module, ProgramFunctions &program, const CppEmitOptions &options)
      : module(module), program(program), options(options) {}

  LogicalResult emit(llvm::raw_ostream &os);

private:
  LogicalResult emitFunction(func::FuncOp fn, int index);
  LogicalResult emitOp(Operation *op);
  LogicalResult emitFused(const FusedLoop &loop);
  LogicalResult emitFusedKernel(const FusedLoop &loop);
  LogicalResult emitProgram();
  FailureOr<std::string> valueSpec(func::FuncOp fn, int index, bool isArg, unsigned i);

  /// The expression (a `const gp_tensor *`) of a value the body computed
  /// or received.
  std::string in(Value v) { return exprs.lookup(v); }
  std::string optIn(Value v) { return v ? in(v) : "nullptr"; }
  /// The value itself (a `const gp_tensor &`).
  std::string ref(Value v) {
    std::string e = in(v);
    return e[0] == '&' ? e.substr(1) : "*" + e;
  }
  /// Declares the gp_tensor of `result` at its arena offset; its address.
  FailureOr<std::string> out(Operation *op, Value result);
  /// A static array of the values, declared before the op's call; nullptr
  /// when empty.
  std::string array(ArrayRef<int64_t> values);
  /// `if (CALL != GP_OK) return fail(ctx, "WHERE");`
  void call(Operation *op, const std::string &callExpr);
  LogicalResult kernel1(Operation *op, llvm::function_ref<std::string(const std::string &)> fn);
  LogicalResult unary(Operation *op, StringRef kind, double p0 = 0, double p1 = 0);
  LogicalResult binary(Operation *op, StringRef kind);
  LogicalResult reduce(Operation *op, StringRef kind, ArrayRef<int64_t> axes);
  FailureOr<std::string> constant(ConstantOp op);
  FailureOr<int> paramIndex(Operation *op, FlatSymbolRefAttr name);

  ModuleOp module;
  ProgramFunctions &program;
  const CppEmitOptions &options;
  bool cuda = options.target == CppEmitOptions::Target::Cuda;
  /// CUDA: the generated kernels of the fused loops.
  std::string kernels;
  llvm::raw_string_ostream kernelsOs{kernels};
  int kernelCounter = 0;

  /// Module-level declarations: constants.
  std::string globals;
  llvm::raw_string_ostream globalsOs{globals};
  DenseMap<Attribute, std::string> constants;
  /// Function definitions.
  std::string functions;
  llvm::raw_string_ostream functionsOs{functions};
  /// The descriptor tables.
  std::string tables;
  llvm::raw_string_ostream tablesOs{tables};

  SmallVector<ParamOp> params;
  llvm::StringMap<int> paramIndices;
  std::vector<std::string> functionNames;
  bool needsRandom = false;

  // The function being emitted.
  std::string body;
  llvm::raw_string_ostream bodyOs{body};
  DenseMap<Value, std::string> exprs;
  int counter = 0;
  bool usesArena = false;
  /// Fused loops by root; the other ops of a loop emit nothing.
  DenseMap<Operation *, FusedLoop> fused;
  DenseSet<Operation *> inLoop;

  // Op timing (options.timeOps): the ops each function times, as
  // gp::OpSpec initializers; the backward functions and the ops in them
  // that recompute the forward.
  std::vector<std::vector<std::string>> opSpecs;
  DenseSet<Operation *> backwardFunctions, recomputed;
  /// Appends op's gp::OpSpec to the current function's table.
  void opSpec(Operation *op, std::vector<std::string> &specs, Operation *function);
};

void Emitter::opSpec(Operation *op, std::vector<std::string> &specs, Operation *function) {
  auto node = nodeName(op->getLoc());
  StringRef phase = !backwardFunctions.count(function) ? "Forward"
                    : recomputed.count(op)             ? "Recompute"
                                                       : "Backward";
  specs.push_back(llvm::formatv("{{{0}, {1}, gp::OpPhase::{2}}", node ? cString(*node) : "nullptr",
                                cString(op->getName().getStringRef()), phase)
                      .str());
}

FailureOr<int> Emitter::paramIndex(Operation *op, FlatSymbolRefAttr name) {
  auto it = paramIndices.find(name.getValue());
  if (it == paramIndices.end())
    return op->emitOpError(kCannot) << "no gpipe.param " << name;
  return it->second;
}

FailureOr<std::string> Emitter::out(Operation *op, Value result) {
  auto offsets = op->getAttrOfType<DenseI64ArrayAttr>("gpipe.arena_offsets");
  unsigned i = cast<OpResult>(result).getResultNumber();
  if (!offsets || static_cast<int64_t>(offsets.size()) <= i || offsets[i] < 0)
    return op->emitOpError(kCannot)
           << "result #" << i << " has no arena offset (run gpipe-plan-memory)";
  std::string name = "v" + std::to_string(counter++);
  bodyOs << llvm::formatv("  gp_tensor {0} = {{{1}, arena + {2}};\n", name,
                          shapeFields(result.getType()), offsets[i]);
  usesArena = true;
  exprs[result] = "&" + name;
  return "&" + name;
}

std::string Emitter::array(ArrayRef<int64_t> values) {
  if (values.empty())
    return "nullptr";
  std::string name = "a" + std::to_string(counter++);
  bodyOs << "  static const int64_t " << name << "[] = " << dimsList(values) << ";\n";
  return name;
}

/// Where an op is, for messages: "node (gpipe.op)".
std::string whereOf(Operation *op) {
  std::string where = op->getName().getStringRef().str();
  if (auto node = nodeName(op->getLoc()))
    where = *node + " (" + where + ")";
  return where;
}

/// Each op pattern writes its kernel call in the CPU form; for CUDA the call
/// goes to the gp_cuda_ kernel of the same name and arguments, which takes
/// the stage's context first (gp_cuda.h mirrors gp_runtime.h).
void Emitter::call(Operation *op, const std::string &callExpr) {
  std::string expr = callExpr;
  StringRef cpu = "gp_cpu_";
  if (cuda && StringRef(expr).starts_with(cpu)) {
    size_t paren = expr.find('(');
    expr = "gp_cuda_" + expr.substr(cpu.size(), paren - cpu.size()) + "(cu, " +
           expr.substr(paren + 1);
  }
  bodyOs << "  if (" << expr << " != GP_OK)\n    return fail(ctx, " << cString(whereOf(op))
         << ");\n";
}

/// An op with one result computed by one kernel call; `fn` builds the call
/// from the result's address.
LogicalResult Emitter::kernel1(Operation *op,
                               llvm::function_ref<std::string(const std::string &)> fn) {
  FailureOr<std::string> r = out(op, op->getResult(0));
  if (failed(r))
    return failure();
  call(op, fn(*r));
  return success();
}

LogicalResult Emitter::unary(Operation *op, StringRef kind, double p0, double p1) {
  return kernel1(op, [&](const std::string &r) {
    return llvm::formatv("gp_cpu_unary({0}, {1}, {2}, {3}, {4})", kind, in(op->getOperand(0)),
                         floatLiteral(p0, false), floatLiteral(p1, false), r)
        .str();
  });
}

LogicalResult Emitter::binary(Operation *op, StringRef kind) {
  return kernel1(op, [&](const std::string &r) {
    return llvm::formatv("gp_cpu_binary({0}, {1}, {2}, {3})", kind, in(op->getOperand(0)),
                         in(op->getOperand(1)), r)
        .str();
  });
}

LogicalResult Emitter::reduce(Operation *op, StringRef kind, ArrayRef<int64_t> axes) {
  std::string a = array(axes);
  return kernel1(op, [&](const std::string &r) {
    return llvm::formatv("gp_cpu_reduce({0}, {1}, {2}, {3}, {4})", kind, in(op->getOperand(0)), a,
                         axes.size(), r)
        .str();
  });
}

/// A constant is static data at namespace scope, shared by every op with
/// the same value: a splat of more than one element is a zero-initialized
/// array filled once at startup, anything else the array of its values.
FailureOr<std::string> Emitter::constant(ConstantOp op) {
  auto attr = dyn_cast<DenseElementsAttr>(op.getValue());
  if (!attr)
    return op.emitOpError(kCannot) << "only dense constants are supported";
  auto [it, inserted] = constants.try_emplace(attr, "");
  if (!inserted)
    return it->second;
  std::string name = "k" + std::to_string(constants.size() - 1);
  it->second = "&" + name;

  auto type = cast<RankedTensorType>(op.getResult().getType());
  Type elt = type.getElementType();
  int64_t n = type.getNumElements();
  auto element = [&](int64_t i) -> std::string {
    if (isa<FloatType>(elt)) {
      APFloat v = attr.getValues<APFloat>()[attr.isSplat() ? 0 : i];
      if (elt.isF16() || elt.isBF16())
        return llvm::formatv("{0:x4}", v.bitcastToAPInt().getZExtValue()).str();
      return floatLiteral(v.convertToDouble(), elt.isF32());
    }
    APInt v = attr.getValues<APInt>()[attr.isSplat() ? 0 : i];
    if (elt.isInteger(1) || cast<IntegerType>(elt).isUnsigned())
      return std::to_string(v.getZExtValue());
    return intLiteral(v.getSExtValue());
  };
  StringRef ctype = storageType(elt);
  if (attr.isSplat() && n > 1) {
    globalsOs << llvm::formatv("{0} {1}_data[{2}];\n", ctype, name, n);
    globalsOs << llvm::formatv("[[maybe_unused]] const bool {0}_filled = fill({0}_data, {1}, "
                               "{2}({3}));\n",
                               name, n, ctype, element(0));
  } else if (n == 0) {
    globalsOs << llvm::formatv("{0} {1}_data[1];\n", ctype, name);
  } else {
    globalsOs << llvm::formatv("const {0} {1}_data[{2}] = {{", ctype, name, n);
    for (int64_t i = 0; i < n; ++i) {
      if (n > 8 && i % 8 == 0)
        globalsOs << "\n   ";
      globalsOs << (i ? (n > 8 && i % 8 == 0 ? " " : ", ") : (n > 8 ? " " : "")) << element(i);
      if (n > 8 && i % 8 == 7 && i + 1 < n)
        globalsOs << ",";
    }
    globalsOs << (n > 8 ? "\n};\n" : "};\n");
  }
  globalsOs << llvm::formatv("const gp_tensor {0} = {{{1}, (void *){0}_data};\n", name,
                             shapeFields(type));
  return it->second;
}

LogicalResult Emitter::emitOp(Operation *op) {
  auto result0 = [&](llvm::function_ref<std::string(const std::string &)> fn) {
    return kernel1(op, fn);
  };
  return llvm::TypeSwitch<Operation *, LogicalResult>(op)
      // Elementwise.
      .Case([&](NegOp) { return unary(op, "GP_NEG"); })
      .Case([&](AbsOp) { return unary(op, "GP_ABS"); })
      .Case([&](SqrtOp) { return unary(op, "GP_SQRT"); })
      .Case([&](ExpOp) { return unary(op, "GP_EXP"); })
      .Case([&](LogOp) { return unary(op, "GP_LOG"); })
      .Case([&](ReciprocalOp) { return unary(op, "GP_RECIPROCAL"); })
      .Case([&](ErfOp) { return unary(op, "GP_ERF"); })
      .Case([&](TanhOp) { return unary(op, "GP_TANH"); })
      .Case([&](SigmoidOp) { return unary(op, "GP_SIGMOID"); })
      .Case([&](ReluOp) { return unary(op, "GP_RELU"); })
      .Case([&](FloorOp) { return unary(op, "GP_FLOOR"); })
      .Case([&](CeilOp) { return unary(op, "GP_CEIL"); })
      .Case([&](SinOp) { return unary(op, "GP_SIN"); })
      .Case([&](CosOp) { return unary(op, "GP_COS"); })
      .Case([&](NotOp) { return unary(op, "GP_NOT"); })
      .Case(
          [&](LeakyReluOp o) { return unary(op, "GP_LEAKY_RELU", o.getAlpha().convertToDouble()); })
      .Case([&](GeluOp o) {
        return unary(op, "GP_GELU", o.getApproximation() == GeluApproximation::Tanh ? 1 : 0);
      })
      .Case([&](ClipOp o) {
        double lo = o.getMin() ? o.getMin()->convertToDouble() : -INFINITY;
        double hi = o.getMax() ? o.getMax()->convertToDouble() : INFINITY;
        return unary(op, "GP_CLIP", lo, hi);
      })
      .Case([&](CastOp o) {
        return result0([&](const std::string &r) {
          return llvm::formatv("gp_cpu_cast({0}, {1})", in(o.getInput()), r).str();
        });
      })
      .Case([&](AddOp) { return binary(op, "GP_ADD"); })
      .Case([&](SubOp) { return binary(op, "GP_SUB"); })
      .Case([&](MulOp) { return binary(op, "GP_MUL"); })
      .Case([&](DivOp) { return binary(op, "GP_DIV"); })
      .Case([&](PowOp) { return binary(op, "GP_POW"); })
      .Case([&](MaxOp) { return binary(op, "GP_MAX"); })
      .Case([&](MinOp) { return binary(op, "GP_MIN"); })
      .Case([&](EqualOp) { return binary(op, "GP_EQUAL"); })
      .Case([&](LessOp) { return binary(op, "GP_LESS"); })
      .Case([&](LessEqualOp) { return binary(op, "GP_LESS_EQUAL"); })
      .Case([&](GreaterOp) { return binary(op, "GP_GREATER"); })
      .Case([&](GreaterEqualOp) { return binary(op, "GP_GREATER_EQUAL"); })
      .Case([&](AndOp) { return binary(op, "GP_AND"); })
      .Case([&](ModOp o) { return binary(op, o.getFmod() ? "GP_FMOD" : "GP_MOD"); })
      .Case([&](OrOp) { return binary(op, "GP_OR"); })
      .Case([&](WhereOp o) {
        return result0([&](const std::string &r) {
          return llvm::formatv("gp_cpu_where({0}, {1}, {2}, {3})", in(o.getCondition()),
                               in(o.getLhs()), in(o.getRhs()), r)
              .str();
        });
      })
      // Matrix products.
      .Case([&](MatMulOp o) {
        return result0([&](const std::string &r) {
          return llvm::formatv("gp_cpu_matmul({0}, {1}, {2})", in(o.getLhs()), in(o.getRhs()), r)
              .str();
        });
      })
      .Case([&](GemmOp o) {
        return result0([&](const std::string &r) {
          return llvm::formatv("gp_cpu_gemm({0}, {1}, {2}, {3}, {4}, {5}, {6}, {7})", in(o.getA()),
                               in(o.getB()), optIn(o.getC()),
                               floatLiteral(o.getAlpha().convertToFloat(), true),
                               floatLiteral(o.getBeta().convertToFloat(), true),
                               boolLiteral(o.getTransA()), boolLiteral(o.getTransB()), r)
              .str();
        });
      })
      // Convolution and pooling.
      .Case([&](ConvOp o) {
        std::string s = array(o.getStrides()), p = array(o.getPads()), d = array(o.getDilations());
        return result0([&](const std::string &r) {
          return llvm::formatv("gp_cpu_conv2d({0}, {1}, {2}, {3}, {4}, {5}, {6}, {7})",
                               in(o.getInput()), in(o.getWeight()), optIn(o.getBias()), s, p, d,
                               intLiteral(o.getGroups()), r)
              .str();
        });
      })
      .Case([&](MaxPoolOp o) {
        std::string k = array(o.getKernel()), s = array(o.getStrides()), p = array(o.getPads()),
                    d = array(o.getDilations());
        return result0([&](const std::string &r) {
          return llvm::formatv("gp_cpu_max_pool2d({0}, {1}, {2}, {3}, {4}, {5})", in(o.getInput()),
                               k, s, p, d, r)
              .str();
        });
      })
      .Case([&](AvgPoolOp o) {
        std::string k = array(o.getKernel()), s = array(o.getStrides()), p = array(o.getPads());
        return result0([&](const std::string &r) {
          return llvm::formatv("gp_cpu_avg_pool2d({0}, {1}, {2}, {3}, {4}, {5})", in(o.getInput()),
                               k, s, p, boolLiteral(o.getCountIncludePad()), r)
              .str();
        });
      })
      .Case([&](GlobalAvgPoolOp o) {
        return result0([&](const std::string &r) {
          return llvm::formatv("gp_cpu_global_pool({0}, false, {1})", in(o.getInput()), r).str();
        });
      })
      .Case([&](GlobalMaxPoolOp o) {
        return result0([&](const std::string &r) {
          return llvm::formatv("gp_cpu_global_pool({0}, true, {1})", in(o.getInput()), r).str();
        });
      })
      // Normalization.
      .Case([&](BatchNormOp o) {
        return result0([&](const std::string &r) {
          return llvm::formatv("gp_cpu_batch_norm({0}, {1}, {2}, {3}, {4}, {5}, {6})",
                               in(o.getInput()), in(o.getScale()), in(o.getBias()), in(o.getMean()),
                               in(o.getVar()), floatLiteral(o.getEpsilon().convertToFloat(), true),
                               r)
              .str();
        });
      })
      .Case([&](BatchNormTrainOp o) -> LogicalResult {
        auto y = out(op, o.getOutput());
        if (failed(y))
          return failure();
        auto m = out(op, o.getNewRunningMean());
        if (failed(m))
          return failure();
        auto v = out(op, o.getNewRunningVar());
        if (failed(v))
          return failure();
        call(op, llvm::formatv("gp_cpu_batch_norm_train({0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}, "
                               "{8}, {9}, {10})",
                               in(o.getInput()), in(o.getScale()), in(o.getBias()),
                               in(o.getRunningMean()), in(o.getRunningVar()),
                               floatLiteral(o.getEpsilon().convertToFloat(), true),
                               floatLiteral(o.getMomentum().convertToFloat(), true),
                               boolLiteral(o.getUnbiasedVarUpdate()), *y, *m, *v)
                     .str());
        return success();
      })
      .Case([&](LayerNormOp o) {
        return result0([&](const std::string &r) {
          return llvm::formatv("gp_cpu_layer_norm({0}, {1}, {2}, {3}, {4}, {5})", in(o.getInput()),
                               in(o.getScale()), optIn(o.getBias()), intLiteral(o.getAxis()),
                               floatLiteral(o.getEpsilon().convertToFloat(), true), r)
              .str();
        });
      })
      .Case([&](SoftmaxOp o) {
        return result0([&](const std::string &r) {
          return llvm::formatv("gp_cpu_softmax({0}, {1}, false, {2})", in(o.getInput()),
                               intLiteral(o.getAxis()), r)
              .str();
        });
      })
      .Case([&](LogSoftmaxOp o) {
        return result0([&](const std::string &r) {
          return llvm::formatv("gp_cpu_softmax({0}, {1}, true, {2})", in(o.getInput()),
                               intLiteral(o.getAxis()), r)
              .str();
        });
      })
      .Case([&](DropoutOp o) -> LogicalResult {
        auto y = out(op, o.getOutput());
        if (failed(y))
          return failure();
        auto mask = out(op, o.getMask());
        if (failed(mask))
          return failure();
        // Without a seed, a fresh one per call, as the interpreter draws.
        std::string seed = "std::random_device{}()";
        if (o.getSeed())
          seed = llvm::formatv("UINT64_C({0})", static_cast<uint64_t>(*o.getSeed())).str();
        else
          needsRandom = true;
        call(op, llvm::formatv("gp_cpu_dropout({0}, {1}, {2}, {3}, {4}, {5})", in(o.getInput()),
                               floatLiteral(o.getRatio().convertToFloat(), true),
                               boolLiteral(o.getTraining()), seed, *y, *mask)
                     .str());
        return success();
      })
      // Reductions.
      .Case([&](ReduceSumOp o) { return reduce(op, "GP_REDUCE_SUM", o.getAxes()); })
      .Case([&](ReduceMeanOp o) { return reduce(op, "GP_REDUCE_MEAN", o.getAxes()); })
      .Case([&](ReduceMaxOp o) { return reduce(op, "GP_REDUCE_MAX", o.getAxes()); })
      .Case([&](ReduceMinOp o) { return reduce(op, "GP_REDUCE_MIN", o.getAxes()); })
      .Case([&](ArgMaxOp o) {
        return result0([&](const std::string &r) {
          return llvm::formatv("gp_cpu_arg_reduce({0}, {1}, true, {2}, {3})", in(o.getInput()),
                               intLiteral(o.getAxis()), boolLiteral(o.getSelectLastIndex()), r)
              .str();
        });
      })
      .Case([&](ArgMinOp o) {
        return result0([&](const std::string &r) {
          return llvm::formatv("gp_cpu_arg_reduce({0}, {1}, false, {2}, {3})", in(o.getInput()),
                               intLiteral(o.getAxis()), boolLiteral(o.getSelectLastIndex()), r)
              .str();
        });
      })
      // Data movement.
      .Case([&](ConstantOp o) -> LogicalResult {
        FailureOr<std::string> c = constant(o);
        if (failed(c))
          return failure();
        if (!cuda) {
          exprs[o.getResult()] = *c;
          return success();
        }
        // The device copy the context keeps of the static data.
        std::string name = "v" + std::to_string(counter++);
        bodyOs << "  const gp_tensor *" << name << " = nullptr;\n";
        call(op, llvm::formatv("gp_cuda_constant(cu, {0}, &{1})", *c, name).str());
        exprs[o.getResult()] = name;
        return success();
      })
      .Case<ReshapeOp, FlattenOp, SqueezeOp, UnsqueezeOp>([&](Operation *) {
        return result0([&](const std::string &r) {
          return llvm::formatv("gp_cpu_copy({0}, {1})", in(op->getOperand(0)), r).str();
        });
      })
      .Case([&](TransposeOp o) {
        std::string perm = array(o.getPerm());
        return result0([&](const std::string &r) {
          return llvm::formatv("gp_cpu_transpose({0}, {1}, {2})", in(o.getInput()), perm, r).str();
        });
      })
      .Case([&](ConcatOp o) {
        std::string inputs = "c" + std::to_string(counter++);
        bodyOs << "  const gp_tensor *" << inputs << "[] = {";
        for (auto [i, v] : llvm::enumerate(o.getInputs()))
          bodyOs << (i ? ", " : "") << in(v);
        bodyOs << "};\n";
        return result0([&](const std::string &r) {
          return llvm::formatv("gp_cpu_concat({0}, {1}, {2}, {3})", inputs, o.getInputs().size(),
                               intLiteral(o.getAxis()), r)
              .str();
        });
      })
      .Case([&](SplitOp o) -> LogicalResult {
        auto type = cast<RankedTensorType>(o.getInput().getType());
        int64_t axis = static_cast<int64_t>(o.getAxis());
        if (axis < 0)
          axis += type.getRank();
        SmallVector<int64_t> starts(type.getRank(), 0), steps(type.getRank(), 1);
        std::string st = array(steps);
        int64_t offset = 0;
        for (auto [result, size] : llvm::zip(o.getResults(), o.getSizes())) {
          FailureOr<std::string> r = out(op, result);
          if (failed(r))
            return failure();
          starts[axis] = offset;
          if (size > 0)
            call(op, llvm::formatv("gp_cpu_slice({0}, {1}, {2}, {3})", in(o.getInput()),
                                   array(starts), st, *r)
                         .str());
          offset += size;
        }
        return success();
      })
      .Case([&](SliceOp o) {
        std::string starts = array(o.getStarts()), steps = array(o.getSteps());
        return result0([&](const std::string &r) {
          return llvm::formatv("gp_cpu_slice({0}, {1}, {2}, {3})", in(o.getInput()), starts, steps,
                               r)
              .str();
        });
      })
      .Case([&](ExpandOp o) {
        return result0([&](const std::string &r) {
          return llvm::formatv("gp_cpu_expand({0}, {1})", in(o.getInput()), r).str();
        });
      })
      .Case([&](GatherOp o) {
        return result0([&](const std::string &r) {
          return llvm::formatv("gp_cpu_gather({0}, {1}, {2}, {3})", in(o.getData()),
                               in(o.getIndices()), intLiteral(o.getAxis()), r)
              .str();
        });
      })
      // Losses.
      .Case([&](SoftmaxCrossEntropyOp o) {
        return result0([&](const std::string &r) {
          return llvm::formatv("gp_cpu_softmax_cross_entropy({0}, {1}, {2}, {3}, {4}, {5}, {6})",
                               in(o.getScores()), in(o.getLabels()), optIn(o.getWeights()),
                               lossReduction(o.getReduction()),
                               boolLiteral(o.getIgnoreIndex().has_value()),
                               intLiteral(o.getIgnoreIndex().value_or(0)), r)
              .str();
        });
      })
      .Case([&](NllLossOp o) {
        return result0([&](const std::string &r) {
          return llvm::formatv("gp_cpu_nll_loss({0}, {1}, {2}, {3}, {4}, {5}, {6})",
                               in(o.getInput()), in(o.getLabels()), optIn(o.getWeights()),
                               lossReduction(o.getReduction()),
                               boolLiteral(o.getIgnoreIndex().has_value()),
                               intLiteral(o.getIgnoreIndex().value_or(0)), r)
              .str();
        });
      })
      // Backward ops.
      .Case([&](ConvGradInputOp o) {
        std::string s = array(o.getStrides()), p = array(o.getPads()), d = array(o.getDilations());
        return result0([&](const std::string &r) {
          return llvm::formatv("gp_cpu_conv2d_grad_input({0}, {1}, {2}, {3}, {4}, {5}, {6})",
                               in(o.getGrad()), in(o.getWeight()), s, p, d,
                               intLiteral(o.getGroups()), r)
              .str();
        });
      })
      .Case([&](ConvGradWeightOp o) {
        std::string s = array(o.getStrides()), p = array(o.getPads()), d = array(o.getDilations());
        return result0([&](const std::string &r) {
          return llvm::formatv("gp_cpu_conv2d_grad_weight({0}, {1}, {2}, {3}, {4}, {5}, {6})",
                               in(o.getGrad()), in(o.getInput()), s, p, d,
                               intLiteral(o.getGroups()), r)
              .str();
        });
      })
      .Case([&](MaxPoolGradOp o) {
        std::string k = array(o.getKernel()), s = array(o.getStrides()), p = array(o.getPads()),
                    d = array(o.getDilations());
        return result0([&](const std::string &r) {
          return llvm::formatv("gp_cpu_max_pool2d_grad({0}, {1}, {2}, {3}, {4}, {5}, {6})",
                               in(o.getGrad()), in(o.getInput()), k, s, p, d, r)
              .str();
        });
      })
      .Case([&](AvgPoolGradOp o) {
        std::string k = array(o.getKernel()), s = array(o.getStrides()), p = array(o.getPads());
        return result0([&](const std::string &r) {
          return llvm::formatv("gp_cpu_avg_pool2d_grad({0}, {1}, {2}, {3}, {4}, {5})",
                               in(o.getGrad()), k, s, p, boolLiteral(o.getCountIncludePad()), r)
              .str();
        });
      })
      .Case([&](BatchNormTrainGradOp o) -> LogicalResult {
        auto dx = out(op, o.getInputGrad());
        if (failed(dx))
          return failure();
        auto ds = out(op, o.getScaleGrad());
        if (failed(ds))
          return failure();
        auto db = out(op, o.getBiasGrad());
        if (failed(db))
          return failure();
        call(op, llvm::formatv("gp_cpu_batch_norm_train_grad({0}, {1}, {2}, {3}, {4}, {5}, {6})",
                               in(o.getGrad()), in(o.getInput()), in(o.getScale()),
                               floatLiteral(o.getEpsilon().convertToFloat(), true), *dx, *ds, *db)
                     .str());
        return success();
      })
      .Case([&](LayerNormGradOp o) -> LogicalResult {
        auto dx = out(op, o.getInputGrad());
        if (failed(dx))
          return failure();
        auto ds = out(op, o.getScaleGrad());
        if (failed(ds))
          return failure();
        auto db = out(op, o.getBiasGrad());
        if (failed(db))
          return failure();
        call(op, llvm::formatv("gp_cpu_layer_norm_grad({0}, {1}, {2}, {3}, {4}, {5}, {6}, {7})",
                               in(o.getGrad()), in(o.getInput()), in(o.getScale()),
                               intLiteral(o.getAxis()),
                               floatLiteral(o.getEpsilon().convertToFloat(), true), *dx, *ds, *db)
                     .str());
        return success();
      })
      .Case([&](NllLossGradOp o) {
        return result0([&](const std::string &r) {
          return llvm::formatv("gp_cpu_nll_loss_grad({0}, {1}, {2}, {3}, {4}, {5}, {6})",
                               in(o.getGrad()), in(o.getLabels()), optIn(o.getWeights()),
                               lossReduction(o.getReduction()),
                               boolLiteral(o.getIgnoreIndex().has_value()),
                               intLiteral(o.getIgnoreIndex().value_or(0)), r)
              .str();
        });
      })
      .Case([&](GatherGradOp o) {
        return result0([&](const std::string &r) {
          return llvm::formatv("gp_cpu_gather_grad({0}, {1}, {2}, {3})", in(o.getGrad()),
                               in(o.getIndices()), intLiteral(o.getAxis()), r)
              .str();
        });
      })
      .Case([&](SliceGradOp o) {
        std::string starts = array(o.getStarts()), steps = array(o.getSteps());
        return result0([&](const std::string &r) {
          return llvm::formatv("gp_cpu_slice_grad({0}, {1}, {2}, {3})", in(o.getGrad()), starts,
                               steps, r)
              .str();
        });
      })
      // Model.
      .Case([&](GetParamOp o) -> LogicalResult {
        FailureOr<int> index = paramIndex(op, o.getNameAttr());
        if (failed(index))
          return failure();
        std::string name = "v" + std::to_string(counter++);
        bodyOs << llvm::formatv("  const gp_tensor *{0} = ctx.params->get({1}, ctx.error);\n"
                                "  if (!{0})\n    return paramFail(ctx, {2});\n",
                                name, *index,
                                cString(("cannot load parameter '" + o.getName() + "'").str()));
        exprs[o.getResult()] = name;
        return success();
      })
      .Case([&](SetParamOp o) -> LogicalResult {
        FailureOr<int> index = paramIndex(op, o.getNameAttr());
        if (failed(index))
          return failure();
        if (cuda) {
          // A device copy, on the stage's stream, the table keeps.
          std::string name = "p" + std::to_string(counter++);
          bodyOs << llvm::formatv(
              "  gp::Tensor {0};\n"
              "  if (!gp::cudaCopyOut(ctx, cu, {1}, {0}) || !ctx.params->store({2}, {0}, "
              "ctx.error))\n    return paramFail(ctx, {3});\n",
              name, ref(o.getValue()), *index,
              cString(("cannot store parameter '" + o.getName() + "'").str()));
          return success();
        }
        bodyOs << llvm::formatv("  if (!ctx.params->set({0}, {1}, ctx.error))\n"
                                "    return paramFail(ctx, {2});\n",
                                *index, ref(o.getValue()),
                                cString(("cannot store parameter '" + o.getName() + "'").str()));
        return success();
      })
      .Case([&](func::ReturnOp o) -> LogicalResult {
        // The arena is reused by the next call: results are copied out.
        for (auto [i, v] : llvm::enumerate(o.getOperands()))
          bodyOs << llvm::formatv(cuda ? "  if (!gp::cudaCopyOut(ctx, cu, {0}, results[{1}]))\n"
                                         "    return GP_ERROR;\n"
                                       : "  if (!copyOut(ctx, {0}, results[{1}]))\n"
                                         "    return GP_ERROR;\n",
                                  ref(v), i);
        // What the function hands over is complete for any stream.
        if (cuda)
          bodyOs << llvm::formatv("  if (gp_cuda_sync(cu) != GP_OK)\n    return fail(ctx, {0});\n",
                                  cString("@" + op->getParentOfType<func::FuncOp>().getSymName().str()));
        bodyOs << "  return GP_OK;\n";
        return success();
      })
      .Default([&](Operation *) {
        return op->emitOpError(kCannot) << "the emitter has no kernel for it";
      });
}

/// One loop over the elements for a fused group of elementwise ops: leaves
/// of the result's shape are read element by element, single-element ones
/// once before the loop; each op is one statement (no contraction across
/// ops), in the order of the IR.
LogicalResult Emitter::emitFused(const FusedLoop &loop) {
  if (cuda)
    return emitFusedKernel(loop);
  Operation *root = loop.ops.back();
  FailureOr<std::string> out = this->out(root, root->getResult(0));
  if (failed(out))
    return failure();
  auto type = cast<RankedTensorType>(root->getResult(0).getType());
  int64_t n = type.getNumElements();
  std::string where;
  for (Operation *op : loop.ops)
    where += (where.empty() ? "" : ", ") + op->getName().getStringRef().str();
  bodyOs << "  { // fused: " << where << "\n";
  DenseMap<Value, std::string> element;
  for (auto [i, leaf] : llvm::enumerate(loop.leaves)) {
    std::string name = "x" + std::to_string(i);
    if (cast<RankedTensorType>(leaf.getType()).getNumElements() == 1) {
      bodyOs << llvm::formatv("    const float {0} = *static_cast<const float *>(({1})->data);\n",
                              name, in(leaf));
      element[leaf] = name;
    } else {
      bodyOs << llvm::formatv("    const float *{0} = static_cast<const float *>(({1})->data);\n",
                              name, in(leaf));
      element[leaf] = name + "[i]";
    }
  }
  bodyOs << llvm::formatv("    float *y = static_cast<float *>(({0})->data);\n", *out);
  // Parallel where one kernel call on the tensor would be (the runtime's
  // parallelFor: 8 units of work per element, from 2^15).
  if (n * 8 >= (1 << 15))
    bodyOs << "#ifdef _OPENMP\n#pragma omp parallel for\n#endif\n";
  bodyOs << llvm::formatv("    for (int64_t i = 0; i < {0}; ++i) {{\n", n);
  for (auto [k, op] : llvm::enumerate(loop.ops)) {
    std::string a = element.lookup(op->getOperand(0));
    std::string b = op->getNumOperands() > 1 ? element.lookup(op->getOperand(1)) : "";
    std::string t = "t" + std::to_string(k);
    bodyOs << llvm::formatv("      const float {0} = {1};\n", t, *fusedExpr(op, a, b));
    element[op->getResult(0)] = t;
  }
  bodyOs << llvm::formatv("      y[i] = t{0};\n    }\n  }\n", loop.ops.size() - 1);
  return success();
}

/// CUDA: a fused loop is a generated kernel. Its element function computes
/// the ops in the order of the IR, one statement each, as the CPU loop
/// does; the kernel runs it in a grid-stride loop, four elements at a time
/// (float4 loads and stores, coalesced) when the count is a multiple of 4
/// and every pointer is 16-byte aligned. Single-element leaves are read once
/// per thread.
LogicalResult Emitter::emitFusedKernel(const FusedLoop &loop) {
  Operation *root = loop.ops.back();
  if (loop.gemmRelu) {
    auto gemm = cast<GemmOp>(loop.ops.front());
    FailureOr<std::string> r = out(root, root->getResult(0));
    if (failed(r))
      return failure();
    bodyOs << "  // gpipe.gemm + gpipe.relu: the relu in cuBLASLt's epilogue\n";
    call(gemm, llvm::formatv("gp_cuda_gemm_act(cu, {0}, {1}, {2}, {3}, {4}, {5}, {6}, GP_ACT_RELU, "
                             "{7})",
                             in(gemm.getA()), in(gemm.getB()), optIn(gemm.getC()),
                             floatLiteral(gemm.getAlpha().convertToFloat(), true),
                             floatLiteral(gemm.getBeta().convertToFloat(), true),
                             boolLiteral(gemm.getTransA()), boolLiteral(gemm.getTransB()), *r)
                   .str());
    return success();
  }
  FailureOr<std::string> out = this->out(root, root->getResult(0));
  if (failed(out))
    return failure();
  auto type = cast<RankedTensorType>(root->getResult(0).getType());
  int64_t n = type.getNumElements();
  std::string name = "fused" + std::to_string(kernelCounter++);
  std::string where;
  for (Operation *op : loop.ops)
    where += (where.empty() ? "" : ", ") + op->getName().getStringRef().str();

  // The element function: one parameter per leaf.
  DenseMap<Value, std::string> element;
  SmallVector<std::string> params, vectorLeaves, scalarLeaves;
  for (auto [i, leaf] : llvm::enumerate(loop.leaves)) {
    std::string x = "x" + std::to_string(i);
    element[leaf] = x;
    params.push_back("float " + x);
    (cast<RankedTensorType>(leaf.getType()).getNumElements() == 1 ? scalarLeaves : vectorLeaves)
        .push_back(x);
  }
  kernelsOs << "// fused: " << where << "\n";
  kernelsOs << "__device__ __forceinline__ float " << name << "_element("
            << llvm::join(params, ", ") << ") {\n";
  for (auto [k, op] : llvm::enumerate(loop.ops)) {
    std::string a = element.lookup(op->getOperand(0));
    std::string b = op->getNumOperands() > 1 ? element.lookup(op->getOperand(1)) : "";
    std::string t = "t" + std::to_string(k);
    kernelsOs << llvm::formatv("  const float {0} = {1};\n", t, *fusedExpr(op, a, b));
    element[op->getResult(0)] = t;
  }
  kernelsOs << llvm::formatv("  return t{0};\n}\n", loop.ops.size() - 1);

  // The kernel: pointers to every leaf, the output, the count, the path.
  SmallVector<std::string> kernelParams;
  for (auto [i, leaf] : llvm::enumerate(loop.leaves))
    kernelParams.push_back("const float *p" + std::to_string(i));
  kernelsOs << "__global__ void " << name << "(" << llvm::join(kernelParams, ", ")
            << (kernelParams.empty() ? "" : ", ")
            << "float *y, int64_t n, bool vectorized) {\n";
  for (const std::string &x : scalarLeaves)
    kernelsOs << "  const float " << x << " = *p" << x.substr(1) << ";\n";
  kernelsOs << "  const int64_t stride = int64_t(blockDim.x) * gridDim.x;\n"
            << "  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;\n"
            << "  if (vectorized) {\n"
            << "    for (; i < n / 4; i += stride) {\n";
  for (const std::string &x : vectorLeaves)
    kernelsOs << "      const float4 v" << x << " = reinterpret_cast<const float4 *>(p"
              << x.substr(1) << ")[i];\n";
  kernelsOs << "      float4 r;\n";
  for (StringRef lane : {"x", "y", "z", "w"}) {
    SmallVector<std::string> callArgs;
    for (auto [i, leaf] : llvm::enumerate(loop.leaves)) {
      std::string x = "x" + std::to_string(i);
      bool scalar = cast<RankedTensorType>(leaf.getType()).getNumElements() == 1;
      callArgs.push_back(scalar ? x : "v" + x + "." + lane.str());
    }
    kernelsOs << "      r." << lane << " = " << name << "_element(" << llvm::join(callArgs, ", ")
              << ");\n";
  }
  kernelsOs << "      reinterpret_cast<float4 *>(y)[i] = r;\n    }\n"
            << "    return;\n  }\n"
            << "  for (; i < n; i += stride)\n";
  SmallVector<std::string> callArgs;
  for (auto [i, leaf] : llvm::enumerate(loop.leaves)) {
    std::string x = "x" + std::to_string(i);
    bool scalar = cast<RankedTensorType>(leaf.getType()).getNumElements() == 1;
    callArgs.push_back(scalar ? x : "p" + std::to_string(i) + "[i]");
  }
  kernelsOs << "    y[i] = " << name << "_element(" << llvm::join(callArgs, ", ") << ");\n}\n\n";

  // The launch.
  SmallVector<std::string> args, aligned;
  for (Value leaf : loop.leaves) {
    std::string p = llvm::formatv("static_cast<const float *>(({0})->data)", in(leaf)).str();
    args.push_back(p);
    if (cast<RankedTensorType>(leaf.getType()).getNumElements() != 1)
      aligned.push_back("aligned16(" + p + ")");
  }
  std::string y = llvm::formatv("static_cast<float *>(({0})->data)", *out).str();
  aligned.push_back("aligned16(" + y + ")");
  args.push_back(y);
  int64_t units = n % 4 == 0 ? n / 4 : n;
  bodyOs << "  { // fused: " << where << "\n";
  bodyOs << llvm::formatv("    const bool vectorized = {0};\n",
                          n % 4 == 0 ? llvm::join(aligned, " && ") : std::string("false"));
  bodyOs << llvm::formatv("    {0}<<<gridFor(vectorized ? {1} : {2}), kBlock, 0, stream(cu)>>>({3}, "
                          "{2}, vectorized);\n",
                          name, units, n, llvm::join(args, ", "));
  bodyOs << "  }\n";
  bodyOs << "  if (gp_cuda_check_launch(" << cString(name) << ") != GP_OK)\n    return fail(ctx, "
         << cString(whereOf(root)) << ");\n";
  return success();
}

LogicalResult Emitter::emitFunction(func::FuncOp fn, int index) {
  body.clear();
  exprs.clear();
  counter = 0;
  usesArena = false;
  Block &block = fn.getBody().front();
  for (BlockArgument arg : block.getArguments())
    exprs[arg] = llvm::formatv("args[{0}]", arg.getArgNumber()).str();
  fused.clear();
  inLoop.clear();
  if (options.fuseElementwise) {
    fused = planFusion(block);
    for (auto &[root, loop] : fused)
      for (Operation *op : loop.ops)
        inLoop.insert(op);
    if (cuda) {
      planGemmRelu(block, fused, inLoop);
      for (auto &[root, loop] : fused)
        for (Operation *op : loop.ops)
          inLoop.insert(op);
    }
  }
  // Op timing: every op that calls a kernel and every fused loop, between
  // timer.start() and timer.stop(its entries in the function's OpSpecs);
  // not the optimizer update, which has no model ops.
  bool timing = options.timeOps && fn != program.update;
  std::vector<std::string> &specs = opSpecs[index];
  for (Operation &op : block) {
    auto it = fused.find(&op);
    bool timeThis = timing && (it != fused.end() || (!inLoop.count(&op) && timedOp(&op)));
    size_t first = specs.size();
    if (timeThis) {
      bodyOs << "  timer.start();\n";
      if (it != fused.end())
        for (Operation *member : it->second.ops)
          opSpec(member, specs, fn);
      else
        opSpec(&op, specs, fn);
    }
    if (it != fused.end() ? failed(emitFused(it->second))
                          : !inLoop.count(&op) && failed(emitOp(&op)))
      return failure();
    if (timeThis) {
      size_t count = specs.size() - first;
      // A device op is timed to its end, not to its launch.
      if (cuda)
        bodyOs << "  if (timer.active() && gp_cuda_sync(cu) != GP_OK)\n    return fail(ctx, "
               << cString(whereOf(&op)) << ");\n";
      bodyOs << "  timer.stop(" << first << (count > 1 ? ", " + std::to_string(count) : "")
             << ");\n";
    }
  }

  auto arenaBytes = fn->getAttrOfType<IntegerAttr>("gpipe.arena_bytes");
  if (usesArena && !arenaBytes)
    return fn.emitOpError(kCannot) << "no gpipe.arena_bytes (run gpipe-plan-memory)";
  std::string name = functionNames[index];
  functionsOs << "// @" << fn.getSymName() << "\n";
  functionsOs << "gp_status " << name << "(gp::FunctionContext &ctx, const gp_tensor *const *"
              << (llvm::any_of(block.getArguments(), [](Value v) { return !v.use_empty(); })
                      ? "args"
                      : "")
              << ", gp::Tensor *" << (fn.getNumResults() ? "results" : "") << ") {\n";
  if (cuda)
    functionsOs << "  gp_cuda_ctx *cu = gp::cudaContext(ctx);\n  if (!cu)\n    return GP_ERROR;\n";
  if (usesArena && cuda) {
    // The trainer reserves the largest arena once per stage.
    functionsOs << llvm::formatv("  unsigned char *arena = nullptr;\n"
                                 "  if (gp_cuda_arena(cu, {0}, &arena) != GP_OK)\n"
                                 "    return fail(ctx, {1});\n",
                                 arenaBytes.getInt(),
                                 cString("@" + fn.getSymName().str() + " (its arena)"));
  } else if (usesArena) {
    int64_t bytes = arenaBytes.getInt();
    functionsOs << llvm::formatv("  if (ctx.arena.size() < {0})\n    ctx.arena.resize({0});\n"
                                 "  unsigned char *arena = ctx.arena.data();\n",
                                 bytes);
  }
  if (!specs.empty())
    functionsOs << "  gp::OpTimer timer(ctx, " << index << ");\n";
  functionsOs << body << "}\n\n";
  return success();
}

/// The ValueSpec of argument or result `i` of `fn`, from the wiring
/// attributes gpipe-pipeline and gpipe-build-training put on it.
FailureOr<std::string> Emitter::valueSpec(func::FuncOp fn, int index, bool isArg, unsigned i) {
  DictionaryAttr attrs = isArg ? fn.getArgAttrDict(i) : fn.getResultAttrDict(i);
  Type type = isArg ? fn.getArgumentTypes()[i] : fn.getResultTypes()[i];
  auto get = [&](StringRef name) { return attrs ? attrs.get(name) : Attribute(); };
  auto pair = [&](StringRef name) -> std::optional<std::pair<int64_t, int64_t>> {
    auto a = dyn_cast_or_null<DenseI64ArrayAttr>(get(name));
    if (!a || a.size() != 2)
      return std::nullopt;
    return std::make_pair(a[0], a[1]);
  };
  auto integer = [&](StringRef name) -> std::optional<int64_t> {
    if (auto a = dyn_cast_or_null<IntegerAttr>(get(name)))
      return a.getInt();
    return std::nullopt;
  };
  std::string role = "Plain", returns = "nullptr";
  int64_t a = i, b = 0, numReturns = 0;
  auto returnsArray = [&](ArrayRef<int64_t> positions) {
    numReturns = positions.size();
    if (positions.empty())
      return;
    returns = llvm::formatv("f{0}_{1}{2}_returns", index, isArg ? "arg" : "result", i).str();
    tablesOs << "const int64_t " << returns << "[] = " << dimsList(positions) << ";\n";
  };
  if (fn == program.loss || fn == program.eval) {
    // The model's arguments; its results are the model's results.
    if (!isArg) {
      role = "Output";
      returnsArray({static_cast<int64_t>(i)});
    }
  } else if (auto source = pair("gpipe.source")) {
    role = "Source";
    std::tie(a, b) = *source;
  } else if (auto kept = integer("gpipe.kept")) {
    role = "Kept";
    a = *kept;
  } else if (auto output = integer("gpipe.grad_of_output")) {
    role = "GradOfOutput";
    a = *output;
  } else if (auto gradOf = pair("gpipe.grad_of")) {
    role = "GradOf";
    std::tie(a, b) = *gradOf;
  } else if (auto param = dyn_cast_or_null<FlatSymbolRefAttr>(get("gpipe.param"))) {
    FailureOr<int> p = paramIndex(fn, param);
    if (failed(p))
      return failure();
    role = "ParamGrad";
    a = *p;
  } else if (!isArg) {
    role = "Output";
    a = 0;
    if (auto positions = dyn_cast_or_null<DenseI64ArrayAttr>(get("gpipe.returns")))
      returnsArray(positions.asArrayRef());
  }
  return llvm::formatv("{{gp::Role::{0}, {1}, {2}, {3}, {4}, {5}}", role, a, b, shapeFields(type),
                       returns, numReturns)
      .str();
}

LogicalResult Emitter::emitProgram() {
  // Parameters.
  tablesOs << "const gp::ParamSpec kParams[] = {\n";
  for (ParamOp p : params) {
    auto type = cast<RankedTensorType>(p.getType());
    std::string initializer = "nullptr";
    if (!p.getZeroInit() && p.getInitializer())
      initializer = cString(*p.getInitializer());
    tablesOs << llvm::formatv("    {{{0}, {1}, {2}, {3}, {4}},\n", cString(p.getSymName()),
                              initializer, shapeFields(type), boolLiteral(p.getZeroInit()),
                              boolLiteral(p.getTrainable()));
  }
  if (params.empty())
    tablesOs << "    {nullptr, nullptr, GP_F32, 0, {}, false, false},\n";
  tablesOs << "};\n\n";

  // Functions.
  std::string specs;
  llvm::raw_string_ostream specsOs(specs);
  for (auto [index, fn] : llvm::enumerate(program.functions)) {
    std::string args = "nullptr", results = "nullptr";
    for (bool isArg : {true, false}) {
      unsigned n = isArg ? fn.getNumArguments() : fn.getNumResults();
      if (n == 0)
        continue;
      SmallVector<std::string> values;
      for (unsigned i = 0; i < n; ++i) {
        FailureOr<std::string> spec = valueSpec(fn, index, isArg, i);
        if (failed(spec))
          return failure();
        values.push_back(*spec);
      }
      std::string name = llvm::formatv("f{0}_{1}", index, isArg ? "args" : "results").str();
      tablesOs << "const gp::ValueSpec " << name << "[] = {\n";
      for (const std::string &v : values)
        tablesOs << "    " << v << ",\n";
      tablesOs << "};\n";
      (isArg ? args : results) = name;
    }
    std::string ops;
    if (!opSpecs[index].empty()) {
      std::string name = llvm::formatv("f{0}_ops", index).str();
      tablesOs << "const gp::OpSpec " << name << "[] = {\n";
      for (const std::string &op : opSpecs[index])
        tablesOs << "    " << op << ",\n";
      tablesOs << "};\n";
      ops = llvm::formatv(", {0}, {1}", name, opSpecs[index].size()).str();
    }
    auto arenaBytes = fn->getAttrOfType<IntegerAttr>("gpipe.arena_bytes");
    specsOs << llvm::formatv("    {{{0}, {1}, {2}, {3}, {4}, {5}, {6}{7}},\n",
                             cString(fn.getSymName()), functionNames[index], fn.getNumArguments(),
                             fn.getNumResults(), args, results,
                             arenaBytes ? arenaBytes.getInt() : 0, ops);
  }
  tablesOs << "\nconst gp::FunctionSpec kFunctions[] = {\n" << specs << "};\n\n";

  // Model inputs: the loss function's arguments.
  func::FuncOp loss = program.loss;
  tablesOs << "const gp::InputSpec kInputs[] = {\n";
  for (unsigned i = 0; i < loss.getNumArguments(); ++i) {
    auto name = loss.getArgAttrOfType<StringAttr>(i, "gpipe.name");
    std::string n = name ? name.getValue().str() : "arg" + std::to_string(i);
    tablesOs << llvm::formatv("    {{{0}, {1}, {2}},\n", cString(n),
                              shapeFields(loss.getArgumentTypes()[i]), boolLiteral(n == "labels"));
  }
  if (loss.getNumArguments() == 0)
    tablesOs << "    {nullptr, GP_F32, 0, {}, false},\n";
  tablesOs << "};\n\n";

  // Stages.
  static const char *const kinds[] = {"Forward",        "Recompute",      "Backward",
                                      "SendActivation", "RecvActivation", "SendGradient",
                                      "RecvGradient",   "Update"};
  const Schedule &schedule = program.schedule;
  for (int s = 0; s < schedule.stages; ++s) {
    tablesOs << "const gp::Action kStage" << s << "Actions[] = {\n";
    for (const Action &a : schedule.programs[s])
      tablesOs << llvm::formatv("    {{gp::ActionKind::{0}, {1}, {2}},\n",
                                kinds[static_cast<int>(a.kind)], a.microBatch, a.peer);
    tablesOs << "};\n";
  }
  auto functionIndex = [&](const std::string &name) {
    return name.empty() ? -1 : program.index.lookup(name);
  };
  tablesOs << "\nconst gp::StageSpec kStages[] = {\n";
  for (int s = 0; s < schedule.stages; ++s) {
    const StageFunctions &f = schedule.functions[s];
    tablesOs << llvm::formatv("    {{kStage{0}Actions, {1}, {2}, {3}, {4}, {5}},\n", s,
                              schedule.programs[s].size(), functionIndex(f.forward),
                              functionIndex(f.backward), functionIndex(f.forwardKeep),
                              functionIndex(f.backwardKeep));
  }
  tablesOs << "};\n\n";

  // The program. The initializers come from the file the parameters name.
  std::string modelPath;
  for (ParamOp p : params)
    if (p.getFile() && !p.getZeroInit()) {
      if (!modelPath.empty() && modelPath != *p.getFile())
        return p.emitOpError(kCannot) << "the parameters come from more than one file ('"
                                      << modelPath << "' and '" << *p.getFile() << "')";
      modelPath = p.getFile()->str();
    }
  PipelineOp pipeline = program.pipeline;
  tablesOs << "const gp::Program kProgram = {\n";
  tablesOs << llvm::formatv("    /*modelPath=*/{0},\n", cString(modelPath));
  tablesOs << llvm::formatv("    /*params=*/kParams, /*numParams=*/{0},\n", params.size());
  tablesOs << llvm::formatv("    /*functions=*/kFunctions, /*numFunctions=*/{0},\n",
                            program.functions.size());
  tablesOs << llvm::formatv("    /*inputs=*/kInputs, /*numInputs=*/{0},\n", loss.getNumArguments());
  tablesOs << llvm::formatv("    /*lossFunction=*/{0}, /*updateFunction=*/{1},\n",
                            program.index.lookup(loss.getSymName()),
                            program.index.lookup(program.update.getSymName()));
  tablesOs << llvm::formatv("    /*stages=*/{0}, /*microBatches=*/{1}, /*stageSpecs=*/kStages,\n",
                            schedule.stages, schedule.microBatches);
  tablesOs << llvm::formatv("    /*schedule=*/{0}, /*recompute=*/{1},\n",
                            cString(pipeline.getSchedule()), cString(pipeline.getRecompute()));
  tablesOs << llvm::formatv("    /*evalFunction=*/{0},\n",
                            program.eval ? program.index.lookup(program.eval.getSymName()) : -1);
  if (cuda)
    tablesOs << llvm::formatv("    /*target=*/\"cuda\", /*precision=*/{0},\n",
                              *cudaPrecision(options.precision));
  tablesOs << "};\n";
  return success();
}

LogicalResult Emitter::emit(llvm::raw_ostream &os) {
  if (cuda && !cudaPrecision(options.precision))
    return module.emitError("cannot emit CUDA: unknown precision '")
           << options.precision << "' (expected fp32, tf32 or bf16)";
  for (ParamOp p : module.getOps<ParamOp>()) {
    std::string why = unsupportedType(p.getType());
    if (!why.empty())
      return p.emitOpError(kCannot) << why;
    paramIndices[p.getSymName()] = params.size();
    params.push_back(p);
  }
  llvm::StringSet<> taken;
  for (func::FuncOp fn : program.functions) {
    std::string name = "fn_" + identifier(fn.getSymName());
    for (int k = 1; !taken.insert(name).second; ++k)
      name = "fn_" + identifier(fn.getSymName()) + "_" + std::to_string(k);
    functionNames.push_back(name);
  }
  opSpecs.resize(program.functions.size());
  if (options.timeOps)
    for (const StageFunctions &stage : program.schedule.functions)
      for (auto [fwdName, bwdName] : {std::pair(&stage.forward, &stage.backward),
                                      std::pair(&stage.forwardKeep, &stage.backwardKeep)}) {
        if (bwdName->empty())
          continue;
        func::FuncOp bwd = program.functions[program.index.lookup(*bwdName)];
        backwardFunctions.insert(bwd);
        if (!fwdName->empty())
          for (Operation *op :
               recomputedOps(program.functions[program.index.lookup(*fwdName)], bwd))
            recomputed.insert(op);
      }
  for (auto [index, fn] : llvm::enumerate(program.functions))
    if (failed(emitFunction(fn, index)))
      return failure();
  if (failed(emitProgram()))
    return failure();

  os << "// Generated by gpipe-translate " << (cuda ? "--emit-cuda" : "--emit-cpp");
  if (auto source = module->getAttrOfType<StringAttr>("gpipe.source"))
    os << " from " << source.getValue();
  os << ": the pipelined\n// training step of @" << program.pipeline.getFunction()
     << (cuda ? " as a CUDA program for gp::cudaTrainerMain (gp_cuda_program.h).\n\n"
              : " as a program for gp::trainerMain (gp_program.h).\n\n");
  os << (cuda ? "#include \"gpipe/runtime/gp_cuda_program.h\"\n\n#include <cuda_runtime.h>\n\n"
              : "#include \"gpipe/runtime/gp_program.h\"\n\n");
  os << "#include <cmath>\n#include <cstdint>\n";
  if (needsRandom)
    os << "#include <random>\n";
  os << "#include <string>\n\n";
  os << R"(namespace {

/// Records which op failed and the kernel's message.
[[maybe_unused]] gp_status fail(gp::FunctionContext &ctx, const char *where) {
  ctx.error = std::string(where) + ": " + gp_last_error();
  return GP_ERROR;
}

/// Prefixes the parameter table's message with what was asked of it.
[[maybe_unused]] gp_status paramFail(gp::FunctionContext &ctx, const char *what) {
  ctx.error = std::string(what) + ": " + ctx.error;
  return GP_ERROR;
}

/// Copies a returned value out of the arena, which the next call reuses.
[[maybe_unused]] bool copyOut(gp::FunctionContext &ctx, const gp_tensor &value,
                              gp::Tensor &result) {
  result = gp::Tensor::copyOf(value);
  if (!result.empty() || gp_numel(&value) == 0)
    return true;
  ctx.error = std::string("cannot copy out a result: ") + gp_last_error();
  return false;
}

template <typename T> bool fill(T *data, int64_t n, T value) {
  for (int64_t i = 0; i < n; ++i)
    data[i] = value;
  return true;
}

)";
  if (cuda)
    os << R"(/// The fused kernels' launch geometry: grid-stride loops over at most
/// 8 blocks per SM's worth of blocks.
constexpr int kBlock = 256;
[[maybe_unused]] unsigned gridFor(int64_t units) {
  int64_t blocks = (units + kBlock - 1) / kBlock;
  return static_cast<unsigned>(blocks < 1 ? 1 : blocks < 65536 ? blocks : 65536);
}
[[maybe_unused]] bool aligned16(const void *p) {
  return reinterpret_cast<uintptr_t>(p) % 16 == 0;
}
[[maybe_unused]] cudaStream_t stream(gp_cuda_ctx *cu) {
  return static_cast<cudaStream_t>(gp_cuda_ctx_stream(cu));
}

)";
  if (!constants.empty())
    os << "// Constants.\n" << globals << "\n";
  if (!kernels.empty())
    os << "// Fused elementwise kernels.\n" << kernels;
  os << functions;
  os << "// The program.\n" << tables;
  os << "\n} // namespace\n\n";
  os << "int main(int argc, char **argv) { return gp::" << (cuda ? "cudaTrainerMain" : "trainerMain")
     << "(kProgram, argc, argv); }\n";
  return success();
}

} // namespace

//===----------------------------------------------------------------------===//
// Entry points
//===----------------------------------------------------------------------===//

std::optional<int> mlir::gpipe::cudaPrecision(StringRef name) {
  if (name == "fp32")
    return 0;
  if (name == "tf32")
    return 1;
  if (name == "bf16")
    return 2;
  return std::nullopt;
}

LogicalResult mlir::gpipe::prepareForCpp(ModuleOp module, const CppEmitOptions &options) {
  FailureOr<ProgramFunctions> program = findProgram(module, options);
  if (failed(program))
    return failure();
  PlanMemoryOptions planOptions;
  for (func::FuncOp fn : program->functions) {
    if (!fn.getBody().hasOneBlock())
      return fn.emitOpError(kCannot) << "the function has more than one block";
    for (auto [i, type] : llvm::enumerate(fn.getArgumentTypes())) {
      std::string why = unsupportedType(type);
      if (!why.empty())
        return fn.emitOpError(kCannot) << "argument #" << i << ": " << why;
    }
    for (auto [i, type] : llvm::enumerate(fn.getResultTypes())) {
      std::string why = unsupportedType(type);
      if (!why.empty())
        return fn.emitOpError(kCannot) << "result #" << i << ": " << why;
    }
    for (Operation &op : fn.getBody().front()) {
      for (Type type : op.getResultTypes()) {
        std::string why = unsupportedType(type);
        if (!why.empty())
          return op.emitOpError(kCannot) << why;
      }
    }
    planOptions.functions.push_back(fn.getSymName().str());
  }
  PassManager pm(module.getContext());
  pm.addPass(createPlanMemory(planOptions));
  return pm.run(module);
}

LogicalResult mlir::gpipe::translateToCpp(ModuleOp module, llvm::raw_ostream &os,
                                          const CppEmitOptions &options) {
  FailureOr<ProgramFunctions> program = findProgram(module, options);
  if (failed(program))
    return failure();
  std::string source;
  llvm::raw_string_ostream sourceOs(source);
  Emitter emitter(module, *program, options);
  if (failed(emitter.emit(sourceOs)))
    return failure();
  os << source;
  return success();
}

LogicalResult mlir::gpipe::emitCpp(ModuleOp module, llvm::raw_ostream &os,
                                   const CppEmitOptions &options) {
  if (failed(prepareForCpp(module, options)))
    return failure();
  return translateToCpp(module, os, options);
}
