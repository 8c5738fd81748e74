//===- CppOps.cpp - the emitter's op patterns -----------------------------===//
//
// One pattern per op: the kernel call (gp_cpu_*, or the gp_cuda_* of the
// same name for CUDA) on the op's operands and its result's arena tensor;
// parameter reads and writes; constants; the copy-out at the return.
//
//===----------------------------------------------------------------------===//

#include "Emitter.h"

#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>

using namespace mlir;
using namespace mlir::gpipe;

namespace mlir::gpipe::emitter {

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

int64_t returnSlot(Value v) {
  auto result = dyn_cast<OpResult>(v);
  if (!result)
    return -1;
  auto slots = result.getOwner()->getAttrOfType<DenseI64ArrayAttr>("gpipe.returned");
  if (!slots || static_cast<int64_t>(slots.size()) <= result.getResultNumber())
    return -1;
  return slots[result.getResultNumber()];
}

bool storedDirect(Value v) {
  auto result = dyn_cast<OpResult>(v);
  if (!result)
    return false;
  auto stored = result.getOwner()->getAttrOfType<DenseBoolArrayAttr>("gpipe.stored");
  return stored && static_cast<int64_t>(stored.size()) > result.getResultNumber() &&
         stored[result.getResultNumber()];
}

FailureOr<std::string> Emitter::out(Operation *op, Value result) {
  auto offsets = op->getAttrOfType<DenseI64ArrayAttr>("gpipe.arena_offsets");
  unsigned i = cast<OpResult>(result).getResultNumber();
  // Computed outside the arena (gpipe-plan-memory results=true): into a
  // tensor allocated here that the function hands over, never copied.
  // `holder` is that gp::Tensor: a new local for a value a set_param
  // stores, the function's result for a returned one.
  auto own = [&](const std::string &holder, bool declare, const std::string &what) {
    std::string name = "v" + std::to_string(counter++);
    bodyOs << llvm::formatv("  gp_tensor {0} = {{{1}, nullptr};\n", name,
                            shapeFields(result.getType()));
    bodyOs << llvm::formatv(cuda ? "  {2}{1} = gp::allocateOnStream(cu, {0}.dtype, {0}.rank, "
                                   "{0}.dims);\n"
                                 : "  {2}{1} = gp::Tensor::allocate({0}.dtype, {0}.rank, "
                                   "{0}.dims);\n",
                            name, holder, declare ? "gp::Tensor " : "");
    bodyOs << llvm::formatv("  if ({1}.empty() && gp_numel(&{0}) != 0)\n"
                            "    return fail(ctx, {2});\n"
                            "  {0}.data = {1}.view()->data;\n",
                            name, holder, cString(whereOf(op) + ": cannot allocate " + what));
    exprs[result] = "&" + name;
    return "&" + name;
  };
  // The set_param that stores it hands the table this tensor.
  if (storedDirect(result)) {
    std::string tensor = "s" + std::to_string(counter++);
    storedTensors[result] = tensor;
    return own(tensor, /*declare=*/true, "the parameter value");
  }
  if (int64_t slot = returnSlot(result); slot >= 0)
    return own("results[" + std::to_string(slot) + "]", /*declare=*/false,
               "result #" + std::to_string(slot));
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
        call(op, llvm::formatv("gp_cpu_dropout({0}, {1}, {2}, {3}, {4}, {5}, {6})",
                               in(o.getInput()), floatLiteral(o.getRatio().convertToFloat(), true),
                               boolLiteral(o.getTraining()), seed, optIn(o.getRng()), *y, *mask)
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
      .Case<ReshapeOp, FlattenOp, SqueezeOp, UnsqueezeOp>([&](Operation *) -> LogicalResult {
        // The memory plan made it a view: its operand's bytes, reshaped.
        if (op->hasAttr("gpipe.view")) {
          std::string name = "v" + std::to_string(counter++);
          bodyOs << llvm::formatv("  gp_tensor {0} = {{{1}, ({2})->data};\n", name,
                                  shapeFields(op->getResult(0).getType()),
                                  in(op->getOperand(0)));
          exprs[op->getResult(0)] = "&" + name;
          return success();
        }
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
        // CUDA: a value this function stored is read back once the copy
        // the table keeps is complete.
        if (cuda && pendingParams.count(*index))
          flushStores(op);
        std::string name = "v" + std::to_string(counter++);
        bodyOs << llvm::formatv("  const gp_tensor *{0} = ctx.params->get({1}, ctx.error);\n"
                                "  if (!{0})\n    return paramFail(ctx, {2});\n",
                                name, *index,
                                cString(("cannot load parameter '" + o.getName() + "'").str()));
        // --sync events: the value may come from another stream's update.
        if (cuda)
          bodyOs << llvm::formatv("  if (gp_cuda_await(cu, {0}) != GP_OK)\n"
                                  "    return fail(ctx, {1});\n",
                                  name,
                                  cString(("waiting for parameter '" + o.getName() + "'").str()));
        exprs[o.getResult()] = name;
        return success();
      })
      .Case([&](SetParamOp o) -> LogicalResult {
        FailureOr<int> index = paramIndex(op, o.getNameAttr());
        if (failed(index))
          return failure();
        // The table replaces the value a get_param of this function read:
        // a use of that after the store would read a released tensor.
        for (Operation &earlier : *op->getBlock()) {
          if (&earlier == op)
            break;
          auto get = dyn_cast<GetParamOp>(&earlier);
          if (!get || get.getNameAttr() != o.getNameAttr())
            continue;
          for (Operation *user : get->getUsers())
            if (user->getBlock() == op->getBlock() && op->isBeforeInBlock(user))
              return op->emitOpError(kCannot)
                     << "parameter '" << o.getName() << "' is read by '" << user->getName()
                     << "' after it is stored (the value read before would be released)";
        }
        std::string stored = storedTensors.lookup(o.getValue());
        if (cuda) {
          // A device tensor, written on the stage's stream (computed into
          // it, or a copy), that the table takes once the stream is done:
          // the value it replaces may still be read by the kernels
          // enqueued before.
          std::string name = stored;
          std::string what = cString(("cannot store parameter '" + o.getName() + "'").str());
          if (name.empty()) {
            name = "p" + std::to_string(counter++);
            bodyOs << llvm::formatv("  gp::Tensor {0};\n"
                                    "  if (!gp::cudaCopyOut(ctx, cu, {1}, {0}))\n"
                                    "    return paramFail(ctx, {2});\n",
                                    name, ref(o.getValue()), what);
          }
          // Published (--sync events) with the event of the finish
          // before it.
          pendingStores.push_back(llvm::formatv("  if (gp_cuda_publish(cu, {1}.view()) != GP_OK)\n"
                                                "    return fail(ctx, {2});\n"
                                                "  if (!ctx.params->store({0}, {1}, ctx.error))\n"
                                                "    return paramFail(ctx, {2});\n",
                                                *index, name, what)
                                      .str());
          pendingParams.insert(*index);
          return success();
        }
        // The tensor the value was computed into, or a copy.
        if (!stored.empty())
          bodyOs << llvm::formatv("  if (!ctx.params->store({0}, std::move({1}), ctx.error))\n"
                                  "    return paramFail(ctx, {2});\n",
                                  *index, stored,
                                  cString(("cannot store parameter '" + o.getName() + "'").str()));
        else
          bodyOs << llvm::formatv("  if (!ctx.params->set({0}, {1}, ctx.error))\n"
                                  "    return paramFail(ctx, {2});\n",
                                  *index, ref(o.getValue()),
                                  cString(("cannot store parameter '" + o.getName() + "'").str()));
        return success();
      })
      .Case([&](func::ReturnOp o) -> LogicalResult {
        // The arena is reused by the next call: results not computed into
        // their slot (arguments, parameters, views, a value returned twice)
        // are copied out.
        for (auto [i, v] : llvm::enumerate(o.getOperands())) {
          // Already computed into its slot.
          if (returnSlot(v) == static_cast<int64_t>(i))
            continue;
          bodyOs << llvm::formatv(cuda ? "  if (!gp::cudaCopyOut(ctx, cu, {0}, results[{1}]))\n"
                                         "    return drain(ctx);\n"
                                       : "  if (!copyOut(ctx, {0}, results[{1}]))\n"
                                         "    return GP_ERROR;\n",
                                  ref(v), i);
        }
        // What the function hands over (and stores) is complete for any
        // stream: at once (--sync host), or at the event every reader
        // waits for (--sync events).
        if (cuda) {
          std::string where =
              cString("@" + op->getParentOfType<func::FuncOp>().getSymName().str());
          bodyOs << llvm::formatv("  if (gp_cuda_finish(cu) != GP_OK)\n    return fail(ctx, {0});\n",
                                  where);
          for (unsigned i = 0; i < o.getNumOperands(); ++i)
            bodyOs << llvm::formatv("  if (gp_cuda_publish(cu, results[{0}].view()) != GP_OK)\n"
                                    "    return fail(ctx, {1});\n",
                                    i, where);
          for (const std::string &store : pendingStores)
            bodyOs << store;
          pendingStores.clear();
          pendingParams.clear();
        }
        bodyOs << "  return GP_OK;\n";
        return success();
      })
      .Default([&](Operation *) {
        return op->emitOpError(kCannot) << "the emitter has no kernel for it";
      });
}

/// Ends the work so far (waits for the stage's stream, or records the
/// event the stored values are published with), then hands the table the
/// stored values.
void Emitter::flushStores(Operation *op) {
  bodyOs << "  if (gp_cuda_finish(cu) != GP_OK)\n    return fail(ctx, " << cString(whereOf(op))
         << ");\n";
  for (const std::string &store : pendingStores)
    bodyOs << store;
  pendingStores.clear();
  pendingParams.clear();
}

} // namespace mlir::gpipe::emitter
