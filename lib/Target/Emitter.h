//===- Emitter.h - the C++/CUDA emitter's shared pieces ---------*- C++ -*-===//
//
// What the emitter's files share (lib/Target only): the program's
// functions, literals and names, elementwise fusion and op timing
// (Fusion.cpp), and the Emitter class, whose op patterns are in CppOps.cpp
// and the rest in Cpp.cpp.
//
//===----------------------------------------------------------------------===//

#ifndef GPIPE_LIB_TARGET_EMITTER_H
#define GPIPE_LIB_TARGET_EMITTER_H

#include "gpipe/Dialect/GPipeOps.h"
#include "gpipe/Target/Cpp.h"
#include "gpipe/Transforms/Schedule.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>
#include <string>
#include <vector>

namespace mlir::gpipe::emitter {

constexpr StringLiteral kCannot = "cannot be emitted as C++: ";

//===----------------------------------------------------------------------===//
// The functions of the program, types, literals and names (Support.cpp)
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
  /// `@<step>_loss_weight`, when the loss is a weighted mean (else null).
  func::FuncOp lossWeight;
  /// gpipe-split-update's functions: per stage (null: none; empty when the
  /// update is not split) and the shared one.
  SmallVector<func::FuncOp> stageUpdates;
  func::FuncOp sharedUpdate;
  SmallVector<func::FuncOp> functions;
  llvm::StringMap<int> index;
};

/// The program of `module`'s gpipe.pipeline op; a diagnostic when there is
/// none, or a function it names is missing.
FailureOr<ProgramFunctions> findProgram(ModuleOp module, const CppEmitOptions &options);

/// The runtime's name of an element type; nullopt for one it lacks.
std::optional<StringRef> dtypeName(Type t);

/// The C++ type of one stored element (f16 and bf16 as their bits).
StringRef storageType(Type t);

/// Why `type` cannot be a tensor of the generated program; empty when it
/// can.
std::string unsupportedType(Type type);

/// A C++ literal of `v` (an f32 one with `single`).
std::string floatLiteral(double v, bool single);

std::string intLiteral(int64_t v);

/// An I64Attr's value (ODS returns it unsigned).
std::string intLiteral(uint64_t v);

std::string boolLiteral(bool b);

/// A C string literal; bytes outside printable ASCII as octal escapes.
std::string cString(StringRef s);

/// `{2, 64}`: the dimensions of a gp_tensor or spec.
std::string dimsList(ArrayRef<int64_t> dims);

/// `GP_F32, 2, {2, 64}`: the dtype, rank and dims of a checked type.
std::string shapeFields(Type type);

/// A C++ identifier for a symbol: other characters become '_'.
std::string identifier(StringRef name);

/// The ONNX node an op comes from: the first name in its location.
std::optional<std::string> nodeName(Location loc);

/// The runtime's name of a loss reduction.
const char *lossReduction(LossReduction r);

/// Where an op is, for messages: "node (gpipe.op)".
std::string whereOf(Operation *op);

//===----------------------------------------------------------------------===//
// Elementwise fusion and op timing (Fusion.cpp)
//===----------------------------------------------------------------------===//

/// The C++ expression of an f32 elementwise op on operand expressions `a`
/// (and `b`, and `c`: where's third), exactly as the runtime's kernel
/// computes it; nullopt for an op fusion leaves alone. A comparison's value
/// is a bool, where's condition one.
std::optional<std::string> fusedExpr(Operation *op, StringRef a, StringRef b,
                                     StringRef c = "");

/// Whether `op` may be part of a fused loop: an elementwise op the loop
/// computes exactly as its kernel, on f32 (a comparison of f32 values gives
/// bool; where takes a bool condition of the result's shape), whose
/// operands are either of the result's shape or single elements (no other
/// broadcasting).
bool fusible(Operation *op);

/// The C++ type of a fused loop's value of type `type`: bool or float.
StringRef fusedType(Type type);

/// A fused loop: `ops` (in block order, the root last) compute the root's
/// result element by element from `leaves`.
struct FusedLoop {
  SmallVector<Operation *> ops;
  SmallVector<Value> leaves;
  /// CUDA: not a loop but a gemm and the relu of its result, one cuBLASLt
  /// call with a relu epilogue (ops = {gemm, relu}).
  bool gemmRelu = false;
};

/// The function result `v` is computed into (gpipe-plan-memory results=true),
/// or -1.
int64_t returnSlot(Value v);

/// Whether `v` is computed into a tensor of its own that a set_param hands
/// the parameter table (gpipe-plan-memory results=true: gpipe.stored).
bool storedDirect(Value v);

/// The byte range of `v` in the arena; nullopt outside it.
std::optional<std::pair<int64_t, int64_t>> arenaRange(Value v);

/// Groups the fusible ops of `block` into loops. Going backward, each
/// fusible op not yet taken roots a loop that takes the ops right before it
/// while each is fusible, of the same type, and used once, by an op of the
/// loop. The loop's ops are consecutive (but for constants and parameter
/// reads), so the tensors they read (planned to live until those ops ran)
/// are intact when the root runs. The root's result, the only tensor the
/// loop writes, may share bytes with a leaf only element for element (the
/// same offset); in C++ a single-element leaf is read before the loop and
/// may share any bytes, in a CUDA kernel (`cuda`) every thread reads it, so
/// it may not.
DenseMap<Operation *, FusedLoop> planFusion(Block &block, bool cuda);

/// CUDA: a gemm whose only use is a relu outside any fused loop, with
/// nothing but constants and parameter reads between them, becomes one
/// cuBLASLt call with a relu epilogue, unless the relu's tensor shares
/// bytes with an operand of the gemm (the call reads them while it
/// writes). A backward that recomputes the relu also reads the gemm's
/// result, so only forwards match. Adds both ops to `inLoop`.
void planGemmRelu(Block &block, DenseMap<Operation *, FusedLoop> &loops,
                  DenseSet<Operation *> &inLoop);

/// Whether a program built with op timing times `op`: every op that calls a
/// kernel (constants are static data, parameter reads and writes table
/// lookups, the return a copy-out).
bool timedOp(Operation *op);

/// The ops of `backward` that recompute an op of `forward`, its stage's
/// forward function of the same pair: value numbering from the arguments
/// both read (the same `gpipe.source`) and the activations the forward
/// keeps for it (`gpipe.kept`), an op of the backward recomputes one of the
/// forward when it is the same op with the same attributes (but for its
/// arena offsets) on the same values. What it does not match (the gradient
/// ops) is the backward's own work.
DenseSet<Operation *> recomputedOps(func::FuncOp forward, func::FuncOp backward);

//===----------------------------------------------------------------------===//
// The emitter (CppOps.cpp: the op patterns; Cpp.cpp: functions, fused
// loops and kernels, the tables, the source)
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
  /// Values computed straight into a new tensor that a set_param hands the
  /// table (gpipe.stored): the local gp::Tensor's name.
  DenseMap<Value, std::string> storedTensors;
  int counter = 0;
  bool usesArena = false;
  /// CUDA: the parameter stores of the function so far (code), done after
  /// the stream is waited for, and their parameters.
  SmallVector<std::string> pendingStores;
  DenseSet<int> pendingParams;
  void flushStores(Operation *op);
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

} // namespace mlir::gpipe::emitter

#endif // GPIPE_LIB_TARGET_EMITTER_H
