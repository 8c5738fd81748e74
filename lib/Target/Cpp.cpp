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
// `--emit-cuda` writes the same program as CUDA C++ on the gp_cuda_*
// kernels (fused chains as generated kernels) for `gp::cudaTrainerMain`.
//
// This file: the functions, fused loops and kernels, the tables and the
// source; the op patterns are in CppOps.cpp, fusion in Fusion.cpp.
// With op timing (CppEmitOptions::timeOps), each kernel call and fused loop
// is timed into `ctx.profile` when the trainer sets it, and each function
// lists its timed ops (ONNX node, op, forward/backward/recomputed phase).
//
// Emitting reads the IR only; an op or type it cannot handle is an error on
// the op, and nothing is written.
//
//===----------------------------------------------------------------------===//

#include "Emitter.h"

#include "gpipe/Transforms/Passes.h"

#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FormatVariadic.h"

#include <set>

using namespace mlir;
using namespace mlir::gpipe;
using namespace mlir::gpipe::emitter;

namespace mlir::gpipe::emitter {

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
    std::string c = op->getNumOperands() > 2 ? element.lookup(op->getOperand(2)) : "";
    std::string t = "t" + std::to_string(k);
    bodyOs << llvm::formatv("      const {0} {1} = {2};\n", fusedType(op->getResult(0).getType()),
                            t, *fusedExpr(op, a, b, c));
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
    std::string c = op->getNumOperands() > 2 ? element.lookup(op->getOperand(2)) : "";
    std::string t = "t" + std::to_string(k);
    kernelsOs << llvm::formatv("  const {0} {1} = {2};\n", fusedType(op->getResult(0).getType()),
                               t, *fusedExpr(op, a, b, c));
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
  storedTensors.clear();
  counter = 0;
  pendingStores.clear();
  pendingParams.clear();
  usesArena = false;
  Block &block = fn.getBody().front();
  for (BlockArgument arg : block.getArguments())
    exprs[arg] = llvm::formatv("args[{0}]", arg.getArgNumber()).str();
  fused.clear();
  inLoop.clear();
  if (options.fuseElementwise) {
    fused = planFusion(block, cuda);
    for (auto &[root, loop] : fused)
      for (Operation *op : loop.ops)
        inLoop.insert(op);
    if (cuda)
      planGemmRelu(block, fused, inLoop);
  }
  // Op timing: every op that calls a kernel and every fused loop, between
  // timer.start() and timer.stop(its entries in the function's OpSpecs);
  // not the optimizer update, which has no model ops.
  // The updates are no node's forward or backward: not timed.
  bool timing = options.timeOps && fn != program.update && fn != program.sharedUpdate &&
                !llvm::is_contained(program.stageUpdates, fn);
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
  if (cuda) {
    functionsOs << "  gp_cuda_ctx *cu = gp::cudaContext(ctx);\n  if (!cu)\n    return GP_ERROR;\n";
    // Under --sync events the arguments may still be written on other
    // streams: this one waits for their events first.
    llvm::SmallVector<std::string> used;
    for (BlockArgument arg : block.getArguments())
      if (!arg.use_empty())
        used.push_back("args[" + std::to_string(arg.getArgNumber()) + "]");
    std::string where = cString("@" + fn.getSymName().str() + " (waiting for its arguments)");
    if (!used.empty() && used.size() == block.getNumArguments())
      functionsOs << llvm::formatv("  if (gp_cuda_await_all(cu, args, {0}) != GP_OK)\n"
                                   "    return fail(ctx, {1});\n",
                                   used.size(), where);
    else if (!used.empty())
      functionsOs << llvm::formatv("  {\n    const gp_tensor *const used[] = {{{0}};\n"
                                   "    if (gp_cuda_await_all(cu, used, {1}) != GP_OK)\n"
                                   "      return fail(ctx, {2});\n  }\n",
                                   llvm::join(used, ", "), used.size(), where);
  }
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
  if (fn == program.loss || fn == program.eval || fn == program.lossWeight) {
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
    bool random = static_cast<bool>(loss.getArgAttr(i, "gpipe.rng"));
    tablesOs << llvm::formatv("    {{{0}, {1}, {2}, {3}},\n", cString(n),
                              shapeFields(loss.getArgumentTypes()[i]),
                              boolLiteral(n == "labels" && !random), boolLiteral(random));
  }
  if (loss.getNumArguments() == 0)
    tablesOs << "    {nullptr, GP_F32, 0, {}, false, false},\n";
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
  // A split update: each stage's update function, and where each
  // parameter's current value is (gp::Program::paramOwner): s when only
  // stage s's update stores it, -1 when the main parameters hold it (the
  // shared update stores it, or no update does), -2 - s when several stage
  // updates store their own copies (replicated state such as Adam's step
  // count; s the first).
  if (!program.stageUpdates.empty()) {
    SmallVector<int64_t> updates, owner(params.size(), -1);
    SmallVector<std::set<int64_t>> storers(params.size());
    for (auto [s, fn] : llvm::enumerate(program.stageUpdates)) {
      updates.push_back(fn ? program.index.lookup(fn.getSymName()) : -1);
      if (fn)
        fn.walk([&, s = s](SetParamOp set) {
          storers[paramIndices.lookup(set.getName())].insert(static_cast<int64_t>(s));
        });
    }
    for (auto [index, stages] : llvm::enumerate(storers))
      if (!stages.empty())
        owner[index] = stages.size() == 1 ? *stages.begin() : -2 - *stages.begin();
    if (program.sharedUpdate)
      program.sharedUpdate.walk(
          [&](SetParamOp set) { owner[paramIndices.lookup(set.getName())] = -1; });
    tablesOs << "const int32_t kStageUpdates[] = " << dimsList(updates) << ";\n";
    tablesOs << "const int32_t kParamOwner[] = " << dimsList(owner) << ";\n\n";
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
  // The fields after evalFunction, up to the last one that is not its
  // default (the initializer is positional).
  bool split = !program.stageUpdates.empty();
  bool lossSum = program.loss->hasAttr("gpipe.loss_sum");
  if (cuda || program.lossWeight || split || lossSum)
    tablesOs << llvm::formatv("    /*target=*/\"{0}\", /*precision=*/{1},\n",
                              cuda ? "cuda" : "cpu", cuda ? *cudaPrecision(options.precision) : 0);
  if (program.lossWeight || split || lossSum)
    tablesOs << llvm::formatv("    /*lossWeightFunction=*/{0},\n",
                              program.lossWeight
                                  ? program.index.lookup(program.lossWeight.getSymName())
                                  : -1);
  if (split || lossSum)
    tablesOs << llvm::formatv("    /*stageUpdateFunctions=*/{0}, /*sharedUpdateFunction=*/{1}, "
                              "/*paramOwner=*/{2},\n",
                              split ? "kStageUpdates" : "nullptr",
                              program.sharedUpdate
                                  ? program.index.lookup(program.sharedUpdate.getSymName())
                                  : -1,
                              split ? "kParamOwner" : "nullptr");
  if (lossSum)
    tablesOs << "    /*lossIsSum=*/true,\n";
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
  os << "namespace {\n\n";
  if (cuda)
    os << R"(/// A failing function first waits for its stage's stream: the kernels
/// enqueued may still use the memory its locals hold.
[[maybe_unused]] gp_status drain(gp::FunctionContext &ctx) {
  if (ctx.device)
    gp_cuda_sync(static_cast<gp_cuda_ctx *>(ctx.device));
  return GP_ERROR;
}

/// Records which op failed and the kernel's message.
[[maybe_unused]] gp_status fail(gp::FunctionContext &ctx, const char *where) {
  ctx.error = std::string(where) + ": " + gp_last_error();
  return drain(ctx);
}

/// Prefixes the parameter table's message with what was asked of it.
[[maybe_unused]] gp_status paramFail(gp::FunctionContext &ctx, const char *what) {
  ctx.error = std::string(what) + ": " + ctx.error;
  return drain(ctx);
}
)";
  else
    os << R"(/// Records which op failed and the kernel's message.
[[maybe_unused]] gp_status fail(gp::FunctionContext &ctx, const char *where) {
  ctx.error = std::string(where) + ": " + gp_last_error();
  return GP_ERROR;
}

/// Prefixes the parameter table's message with what was asked of it.
[[maybe_unused]] gp_status paramFail(gp::FunctionContext &ctx, const char *what) {
  ctx.error = std::string(what) + ": " + ctx.error;
  return GP_ERROR;
}
)";
  os << R"(
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
/// 65536 blocks of 256 threads.
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
  // A CPU trainer prefers passive OpenMP waiting (re-executing itself once
  // if the environment does not choose): gp::preferPassiveOpenMP.
  if (cuda)
    os << "int main(int argc, char **argv) { return gp::cudaTrainerMain(kProgram, argc, argv); }\n";
  else
    os << "int main(int argc, char **argv) {\n  gp::preferPassiveOpenMP(argv);\n"
          "  return gp::trainerMain(kProgram, argc, argv);\n}\n";
  return success();
}

} // namespace mlir::gpipe::emitter

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
  // Returned tensors are computed into the results, not copied out.
  planOptions.results = true;
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
