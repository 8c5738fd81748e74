//===- Interpreter.cpp - running gpipe functions on the CPU runtime -------===//

#include "gpipe/Execution/Interpreter.h"

#include "llvm/ADT/TypeSwitch.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <random>
#include <unordered_map>

using namespace mlir;
using namespace mlir::gpipe;

namespace {
class Interpreter {
public:
  Interpreter(func::FuncOp func, ParamStore &params, OpProfile *profile)
      : func(func), params(params), profile(profile) {}

  FailureOr<std::vector<HostTensor>> run(std::vector<HostTensor> inputs);

private:
  const gp_tensor *in(Value v) { return env.find(v)->second.view(); }
  const gp_tensor *optIn(Value v) { return v ? in(v) : nullptr; }
  /// Allocates the storage of `result` and binds it.
  FailureOr<gp_tensor *> out(Operation *op, Value result);
  LogicalResult check(Operation *op, gp_status status);
  LogicalResult execute(Operation *op);

  LogicalResult unary(Operation *op, gp_unary_op kind, double p0 = 0, double p1 = 0);
  LogicalResult binary(Operation *op, gp_binary_op kind);
  LogicalResult reduce(Operation *op, gp_reduce_op kind, ArrayRef<int64_t> axes);
  LogicalResult copy(Operation *op);
  LogicalResult constant(ConstantOp op);
  LogicalResult getParam(GetParamOp op);
  LogicalResult split(SplitOp op);

  func::FuncOp func;
  ParamStore &params;
  OpProfile *profile;
  /// The live values. Node-based: `out` hands out pointers into it that an
  /// op with several results holds while its other results are inserted,
  /// so insertion must not move entries (a DenseMap's rehash would).
  struct ValueHash {
    size_t operator()(Value v) const { return hash_value(v); }
  };
  std::unordered_map<Value, HostTensor, ValueHash> env;
  std::vector<HostTensor> results;
};

FailureOr<gp_tensor *> Interpreter::out(Operation *op, Value result) {
  auto type = dyn_cast<RankedTensorType>(result.getType());
  if (!type)
    return op->emitOpError("cannot execute: result is not a ranked tensor");
  std::string error;
  auto tensor = HostTensor::allocate(type, &error);
  if (failed(tensor))
    return op->emitOpError("cannot execute: ") << error;
  auto [it, inserted] = env.try_emplace(result, std::move(*tensor));
  return it->second.view();
}

LogicalResult Interpreter::check(Operation *op, gp_status status) {
  if (status == GP_OK)
    return success();
  return op->emitOpError("runtime error: ") << gp_last_error();
}

LogicalResult Interpreter::unary(Operation *op, gp_unary_op kind, double p0, double p1) {
  auto o = out(op, op->getResult(0));
  if (failed(o))
    return failure();
  return check(op, gp_cpu_unary(kind, in(op->getOperand(0)), p0, p1, *o));
}

LogicalResult Interpreter::binary(Operation *op, gp_binary_op kind) {
  auto o = out(op, op->getResult(0));
  if (failed(o))
    return failure();
  return check(op, gp_cpu_binary(kind, in(op->getOperand(0)), in(op->getOperand(1)), *o));
}

LogicalResult Interpreter::reduce(Operation *op, gp_reduce_op kind, ArrayRef<int64_t> axes) {
  auto o = out(op, op->getResult(0));
  if (failed(o))
    return failure();
  return check(op, gp_cpu_reduce(kind, in(op->getOperand(0)), axes.data(), axes.size(), *o));
}

LogicalResult Interpreter::copy(Operation *op) {
  auto o = out(op, op->getResult(0));
  if (failed(o))
    return failure();
  return check(op, gp_cpu_copy(in(op->getOperand(0)), *o));
}

LogicalResult Interpreter::constant(ConstantOp op) {
  auto o = out(op, op.getResult());
  if (failed(o))
    return failure();
  auto attr = dyn_cast<DenseElementsAttr>(op.getValue());
  if (!attr)
    return op.emitOpError("cannot execute: only dense constants are supported");
  gp_tensor *t = *o;
  int64_t n = gp_numel(t);
  Type elt = attr.getElementType();
  auto fill = [&](auto tag) {
    using T = decltype(tag);
    T *dst = static_cast<T *>(t->data);
    if (isa<FloatType>(elt)) {
      auto values = attr.getValues<APFloat>();
      for (int64_t i = 0; i < n; ++i)
        dst[i] = static_cast<T>(values[attr.isSplat() ? 0 : i].convertToDouble());
    } else {
      auto values = attr.getValues<APInt>();
      bool isBool = elt.isInteger(1);
      for (int64_t i = 0; i < n; ++i) {
        const APInt &v = values[attr.isSplat() ? 0 : i];
        dst[i] = static_cast<T>(isBool || cast<IntegerType>(elt).isUnsigned() ? v.getZExtValue()
                                                                             : v.getSExtValue());
      }
    }
  };
  switch (t->dtype) {
  case GP_F16: fill(_Float16{}); break;
  case GP_BF16: {
    // bfloat16 is the upper half of the f32 value.
    std::vector<float> wide(n);
    auto values = attr.getValues<APFloat>();
    for (int64_t i = 0; i < n; ++i)
      wide[i] = values[attr.isSplat() ? 0 : i].convertToFloat();
    for (int64_t i = 0; i < n; ++i) {
      uint32_t u;
      std::memcpy(&u, &wide[i], 4);
      static_cast<uint16_t *>(t->data)[i] = uint16_t(u >> 16);
    }
    break;
  }
  case GP_F32: fill(float{}); break;
  case GP_F64: fill(double{}); break;
  case GP_I64: fill(int64_t{}); break;
  case GP_I32: fill(int32_t{}); break;
  case GP_I16: fill(int16_t{}); break;
  case GP_I8: fill(int8_t{}); break;
  case GP_U8: case GP_BOOL: fill(uint8_t{}); break;
  }
  return success();
}

LogicalResult Interpreter::getParam(GetParamOp op) {
  auto param = SymbolTable::lookupNearestSymbolFrom<ParamOp>(op, op.getNameAttr());
  std::string error;
  auto value = params.get(param, error);
  if (failed(value))
    return op.emitOpError("cannot load parameter '") << op.getName() << "': " << error;
  env[op.getResult()] = *value;
  return success();
}

LogicalResult Interpreter::split(SplitOp op) {
  int64_t axis = op.getAxis(), offset = 0;
  const gp_tensor *x = in(op.getInput());
  SmallVector<int64_t> starts(x->rank, 0), steps(x->rank, 1);
  for (auto [result, size] : llvm::zip(op.getResults(), op.getSizes())) {
    auto o = out(op, result);
    if (failed(o))
      return failure();
    starts[axis] = offset;
    if (size > 0 && failed(check(op, gp_cpu_slice(x, starts.data(), steps.data(), *o))))
      return failure();
    offset += size;
  }
  return success();
}

gp_loss_reduction lossReduction(LossReduction r) {
  switch (r) {
  case LossReduction::None: return GP_LOSS_NONE;
  case LossReduction::Sum: return GP_LOSS_SUM;
  case LossReduction::Mean: return GP_LOSS_MEAN;
  }
  return GP_LOSS_MEAN;
}

LogicalResult Interpreter::execute(Operation *op) {
  auto result0 = [&]() { return out(op, op->getResult(0)); };
  return llvm::TypeSwitch<Operation *, LogicalResult>(op)
      // Elementwise.
      .Case([&](NegOp) { return unary(op, GP_NEG); })
      .Case([&](AbsOp) { return unary(op, GP_ABS); })
      .Case([&](SqrtOp) { return unary(op, GP_SQRT); })
      .Case([&](ExpOp) { return unary(op, GP_EXP); })
      .Case([&](LogOp) { return unary(op, GP_LOG); })
      .Case([&](ReciprocalOp) { return unary(op, GP_RECIPROCAL); })
      .Case([&](ErfOp) { return unary(op, GP_ERF); })
      .Case([&](TanhOp) { return unary(op, GP_TANH); })
      .Case([&](SigmoidOp) { return unary(op, GP_SIGMOID); })
      .Case([&](ReluOp) { return unary(op, GP_RELU); })
      .Case([&](FloorOp) { return unary(op, GP_FLOOR); })
      .Case([&](CeilOp) { return unary(op, GP_CEIL); })
      .Case([&](SinOp) { return unary(op, GP_SIN); })
      .Case([&](CosOp) { return unary(op, GP_COS); })
      .Case([&](NotOp) { return unary(op, GP_NOT); })
      .Case([&](LeakyReluOp o) {
        return unary(op, GP_LEAKY_RELU, o.getAlpha().convertToDouble());
      })
      .Case([&](GeluOp o) {
        return unary(op, GP_GELU, o.getApproximation() == GeluApproximation::Tanh ? 1 : 0);
      })
      .Case([&](ClipOp o) {
        double lo = o.getMin() ? o.getMin()->convertToDouble() : -INFINITY;
        double hi = o.getMax() ? o.getMax()->convertToDouble() : INFINITY;
        return unary(op, GP_CLIP, lo, hi);
      })
      .Case([&](CastOp o) -> LogicalResult {
        auto r = result0();
        return failed(r) ? failure() : check(op, gp_cpu_cast(in(o.getInput()), *r));
      })
      .Case([&](AddOp) { return binary(op, GP_ADD); })
      .Case([&](SubOp) { return binary(op, GP_SUB); })
      .Case([&](MulOp) { return binary(op, GP_MUL); })
      .Case([&](DivOp) { return binary(op, GP_DIV); })
      .Case([&](PowOp) { return binary(op, GP_POW); })
      .Case([&](MaxOp) { return binary(op, GP_MAX); })
      .Case([&](MinOp) { return binary(op, GP_MIN); })
      .Case([&](EqualOp) { return binary(op, GP_EQUAL); })
      .Case([&](LessOp) { return binary(op, GP_LESS); })
      .Case([&](LessEqualOp) { return binary(op, GP_LESS_EQUAL); })
      .Case([&](GreaterOp) { return binary(op, GP_GREATER); })
      .Case([&](GreaterEqualOp) { return binary(op, GP_GREATER_EQUAL); })
      .Case([&](AndOp) { return binary(op, GP_AND); })
      .Case([&](ModOp o) { return binary(op, o.getFmod() ? GP_FMOD : GP_MOD); })
      .Case([&](OrOp) { return binary(op, GP_OR); })
      .Case([&](WhereOp o) -> LogicalResult {
        auto r = result0();
        return failed(r) ? failure()
                         : check(op, gp_cpu_where(in(o.getCondition()), in(o.getLhs()),
                                                  in(o.getRhs()), *r));
      })
      // Matrix products.
      .Case([&](MatMulOp o) -> LogicalResult {
        auto r = result0();
        return failed(r) ? failure() : check(op, gp_cpu_matmul(in(o.getLhs()), in(o.getRhs()), *r));
      })
      .Case([&](GemmOp o) -> LogicalResult {
        auto r = result0();
        return failed(r) ? failure()
                         : check(op, gp_cpu_gemm(in(o.getA()), in(o.getB()), optIn(o.getC()),
                                                 o.getAlpha().convertToFloat(),
                                                 o.getBeta().convertToFloat(), o.getTransA(),
                                                 o.getTransB(), *r));
      })
      // Convolution and pooling.
      .Case([&](ConvOp o) -> LogicalResult {
        auto r = result0();
        return failed(r) ? failure()
                         : check(op, gp_cpu_conv2d(in(o.getInput()), in(o.getWeight()),
                                                   optIn(o.getBias()), o.getStrides().data(),
                                                   o.getPads().data(), o.getDilations().data(),
                                                   o.getGroups(), *r));
      })
      .Case([&](MaxPoolOp o) -> LogicalResult {
        auto r = result0();
        return failed(r) ? failure()
                         : check(op, gp_cpu_max_pool2d(in(o.getInput()), o.getKernel().data(),
                                                       o.getStrides().data(), o.getPads().data(),
                                                       o.getDilations().data(), *r));
      })
      .Case([&](AvgPoolOp o) -> LogicalResult {
        auto r = result0();
        return failed(r) ? failure()
                         : check(op, gp_cpu_avg_pool2d(in(o.getInput()), o.getKernel().data(),
                                                       o.getStrides().data(), o.getPads().data(),
                                                       o.getCountIncludePad(), *r));
      })
      .Case([&](GlobalAvgPoolOp o) -> LogicalResult {
        auto r = result0();
        return failed(r) ? failure() : check(op, gp_cpu_global_pool(in(o.getInput()), false, *r));
      })
      .Case([&](GlobalMaxPoolOp o) -> LogicalResult {
        auto r = result0();
        return failed(r) ? failure() : check(op, gp_cpu_global_pool(in(o.getInput()), true, *r));
      })
      // Normalization.
      .Case([&](BatchNormOp o) -> LogicalResult {
        auto r = result0();
        return failed(r) ? failure()
                         : check(op, gp_cpu_batch_norm(in(o.getInput()), in(o.getScale()),
                                                       in(o.getBias()), in(o.getMean()),
                                                       in(o.getVar()),
                                                       o.getEpsilon().convertToFloat(), *r));
      })
      .Case([&](BatchNormTrainOp o) -> LogicalResult {
        auto y = out(op, o.getOutput());
        auto m = out(op, o.getNewRunningMean());
        auto v = out(op, o.getNewRunningVar());
        if (failed(y) || failed(m) || failed(v))
          return failure();
        return check(op, gp_cpu_batch_norm_train(
                             in(o.getInput()), in(o.getScale()), in(o.getBias()),
                             in(o.getRunningMean()), in(o.getRunningVar()),
                             o.getEpsilon().convertToFloat(), o.getMomentum().convertToFloat(),
                             o.getUnbiasedVarUpdate(), *y, *m, *v));
      })
      .Case([&](LayerNormOp o) -> LogicalResult {
        auto r = result0();
        return failed(r) ? failure()
                         : check(op, gp_cpu_layer_norm(in(o.getInput()), in(o.getScale()),
                                                       optIn(o.getBias()), o.getAxis(),
                                                       o.getEpsilon().convertToFloat(), *r));
      })
      .Case([&](SoftmaxOp o) -> LogicalResult {
        auto r = result0();
        return failed(r) ? failure() : check(op, gp_cpu_softmax(in(o.getInput()), o.getAxis(), false, *r));
      })
      .Case([&](LogSoftmaxOp o) -> LogicalResult {
        auto r = result0();
        return failed(r) ? failure() : check(op, gp_cpu_softmax(in(o.getInput()), o.getAxis(), true, *r));
      })
      .Case([&](DropoutOp o) -> LogicalResult {
        auto y = out(op, o.getOutput());
        auto mask = out(op, o.getMask());
        if (failed(y) || failed(mask))
          return failure();
        uint64_t seed = o.getSeed() ? (uint64_t)*o.getSeed() : std::random_device{}();
        return check(op, gp_cpu_dropout(in(o.getInput()), o.getRatio().convertToFloat(),
                                        o.getTraining(), seed, optIn(o.getRng()), *y, *mask));
      })
      // Reductions.
      .Case([&](ReduceSumOp o) { return reduce(op, GP_REDUCE_SUM, o.getAxes()); })
      .Case([&](ReduceMeanOp o) { return reduce(op, GP_REDUCE_MEAN, o.getAxes()); })
      .Case([&](ReduceMaxOp o) { return reduce(op, GP_REDUCE_MAX, o.getAxes()); })
      .Case([&](ReduceMinOp o) { return reduce(op, GP_REDUCE_MIN, o.getAxes()); })
      .Case([&](ArgMaxOp o) -> LogicalResult {
        auto r = result0();
        return failed(r) ? failure()
                         : check(op, gp_cpu_arg_reduce(in(o.getInput()), o.getAxis(), true,
                                                       o.getSelectLastIndex(), *r));
      })
      .Case([&](ArgMinOp o) -> LogicalResult {
        auto r = result0();
        return failed(r) ? failure()
                         : check(op, gp_cpu_arg_reduce(in(o.getInput()), o.getAxis(), false,
                                                       o.getSelectLastIndex(), *r));
      })
      // Data movement.
      .Case([&](ConstantOp o) { return constant(o); })
      .Case<ReshapeOp, FlattenOp, SqueezeOp, UnsqueezeOp>([&](Operation *) { return copy(op); })
      .Case([&](TransposeOp o) -> LogicalResult {
        auto r = result0();
        return failed(r) ? failure() : check(op, gp_cpu_transpose(in(o.getInput()), o.getPerm().data(), *r));
      })
      .Case([&](ConcatOp o) -> LogicalResult {
        auto r = result0();
        if (failed(r))
          return failure();
        SmallVector<const gp_tensor *> inputs;
        for (Value v : o.getInputs())
          inputs.push_back(in(v));
        return check(op, gp_cpu_concat(inputs.data(), inputs.size(), o.getAxis(), *r));
      })
      .Case([&](SplitOp o) { return split(o); })
      .Case([&](SliceOp o) -> LogicalResult {
        auto r = result0();
        return failed(r) ? failure()
                         : check(op, gp_cpu_slice(in(o.getInput()), o.getStarts().data(),
                                                  o.getSteps().data(), *r));
      })
      .Case([&](ExpandOp o) -> LogicalResult {
        auto r = result0();
        return failed(r) ? failure() : check(op, gp_cpu_expand(in(o.getInput()), *r));
      })
      .Case([&](GatherOp o) -> LogicalResult {
        auto r = result0();
        return failed(r) ? failure()
                         : check(op, gp_cpu_gather(in(o.getData()), in(o.getIndices()),
                                                   o.getAxis(), *r));
      })
      // Losses.
      .Case([&](SoftmaxCrossEntropyOp o) -> LogicalResult {
        auto r = result0();
        return failed(r) ? failure()
                         : check(op, gp_cpu_softmax_cross_entropy(
                                         in(o.getScores()), in(o.getLabels()),
                                         optIn(o.getWeights()), lossReduction(o.getReduction()),
                                         o.getIgnoreIndex().has_value(),
                                         o.getIgnoreIndex().value_or(0), *r));
      })
      .Case([&](NllLossOp o) -> LogicalResult {
        auto r = result0();
        return failed(r) ? failure()
                         : check(op, gp_cpu_nll_loss(in(o.getInput()), in(o.getLabels()),
                                                     optIn(o.getWeights()),
                                                     lossReduction(o.getReduction()),
                                                     o.getIgnoreIndex().has_value(),
                                                     o.getIgnoreIndex().value_or(0), *r));
      })
      // Backward ops.
      .Case([&](ConvGradInputOp o) -> LogicalResult {
        auto r = result0();
        return failed(r) ? failure()
                         : check(op, gp_cpu_conv2d_grad_input(
                                         in(o.getGrad()), in(o.getWeight()), o.getStrides().data(),
                                         o.getPads().data(), o.getDilations().data(),
                                         o.getGroups(), *r));
      })
      .Case([&](ConvGradWeightOp o) -> LogicalResult {
        auto r = result0();
        return failed(r) ? failure()
                         : check(op, gp_cpu_conv2d_grad_weight(
                                         in(o.getGrad()), in(o.getInput()), o.getStrides().data(),
                                         o.getPads().data(), o.getDilations().data(),
                                         o.getGroups(), *r));
      })
      .Case([&](MaxPoolGradOp o) -> LogicalResult {
        auto r = result0();
        return failed(r) ? failure()
                         : check(op, gp_cpu_max_pool2d_grad(
                                         in(o.getGrad()), in(o.getInput()), o.getKernel().data(),
                                         o.getStrides().data(), o.getPads().data(),
                                         o.getDilations().data(), *r));
      })
      .Case([&](AvgPoolGradOp o) -> LogicalResult {
        auto r = result0();
        return failed(r) ? failure()
                         : check(op, gp_cpu_avg_pool2d_grad(in(o.getGrad()), o.getKernel().data(),
                                                            o.getStrides().data(),
                                                            o.getPads().data(),
                                                            o.getCountIncludePad(), *r));
      })
      .Case([&](BatchNormTrainGradOp o) -> LogicalResult {
        auto dx = out(op, o.getInputGrad());
        auto ds = out(op, o.getScaleGrad());
        auto db = out(op, o.getBiasGrad());
        if (failed(dx) || failed(ds) || failed(db))
          return failure();
        return check(op, gp_cpu_batch_norm_train_grad(in(o.getGrad()), in(o.getInput()),
                                                      in(o.getScale()),
                                                      o.getEpsilon().convertToFloat(), *dx, *ds,
                                                      *db));
      })
      .Case([&](LayerNormGradOp o) -> LogicalResult {
        auto dx = out(op, o.getInputGrad());
        auto ds = out(op, o.getScaleGrad());
        auto db = out(op, o.getBiasGrad());
        if (failed(dx) || failed(ds) || failed(db))
          return failure();
        return check(op, gp_cpu_layer_norm_grad(in(o.getGrad()), in(o.getInput()),
                                                in(o.getScale()), o.getAxis(),
                                                o.getEpsilon().convertToFloat(), *dx, *ds, *db));
      })
      .Case([&](NllLossGradOp o) -> LogicalResult {
        auto r = result0();
        return failed(r) ? failure()
                         : check(op, gp_cpu_nll_loss_grad(
                                         in(o.getGrad()), in(o.getLabels()), optIn(o.getWeights()),
                                         lossReduction(o.getReduction()),
                                         o.getIgnoreIndex().has_value(),
                                         o.getIgnoreIndex().value_or(0), *r));
      })
      .Case([&](GatherGradOp o) -> LogicalResult {
        auto r = result0();
        return failed(r) ? failure()
                         : check(op, gp_cpu_gather_grad(in(o.getGrad()), in(o.getIndices()),
                                                        o.getAxis(), *r));
      })
      .Case([&](SliceGradOp o) -> LogicalResult {
        auto r = result0();
        return failed(r) ? failure()
                         : check(op, gp_cpu_slice_grad(in(o.getGrad()), o.getStarts().data(),
                                                       o.getSteps().data(), *r));
      })
      // Model.
      .Case([&](GetParamOp o) { return getParam(o); })
      .Case([&](SetParamOp o) -> LogicalResult {
        params.set(o.getName(), env.find(o.getValue())->second);
        return success();
      })
      .Case([&](func::ReturnOp o) -> LogicalResult {
        for (Value v : o.getOperands())
          results.push_back(env.find(v)->second);
        return success();
      })
      .Default([&](Operation *) {
        return op->emitOpError("cannot execute: the CPU interpreter has no kernel for it");
      });
}

FailureOr<std::vector<HostTensor>> Interpreter::run(std::vector<HostTensor> inputs) {
  Block &body = func.getBody().front();
  if (inputs.size() != body.getNumArguments())
    return func.emitOpError("expects ") << body.getNumArguments() << " inputs, got "
                                        << inputs.size();
  for (auto [arg, value] : llvm::zip(body.getArguments(), inputs))
    env[arg] = std::move(value);
  // Values die at their last use; their storage goes back to the pool.
  DenseMap<Operation *, SmallVector<Value>> dying;
  auto noteLastUse = [&](Value v) {
    Operation *last = nullptr;
    for (Operation *user : v.getUsers())
      if (!last || last->isBeforeInBlock(user))
        last = user;
    if (last)
      dying[last].push_back(v);
  };
  for (BlockArgument arg : body.getArguments())
    noteLastUse(arg);
  for (Operation &op : body)
    for (Value v : op.getResults())
      noteLastUse(v);
  for (Operation &op : body) {
    auto start = std::chrono::steady_clock::now();
    if (failed(execute(&op)))
      return failure();
    if (auto it = dying.find(&op); it != dying.end())
      for (Value v : it->second)
        env.erase(v);
    if (profile) {
      auto &entry = (*profile)[op.getName().getStringRef()];
      entry.first += std::chrono::duration<double, std::milli>(
                         std::chrono::steady_clock::now() - start)
                         .count();
      ++entry.second;
    }
  }
  return std::move(results);
}
} // namespace

FailureOr<HostTensor> ParamStore::get(ParamOp param, std::string &error) {
  auto it = values.find(param.getSymName());
  if (it != values.end())
    return it->second;
  auto tensor = HostTensor::allocate(cast<RankedTensorType>(param.getType()), &error);
  if (failed(tensor))
    return failure();
  if (param.getZeroInit())
    std::memset(tensor->data(), 0, tensor->bytes());
  else if (!loader || !loader(param, *tensor, error))
    return failure();
  values[param.getSymName()] = *tensor;
  return *tensor;
}

const HostTensor *ParamStore::lookup(StringRef name) const {
  auto it = values.find(name);
  return it == values.end() ? nullptr : &it->second;
}

FailureOr<std::vector<HostTensor>>
mlir::gpipe::interpret(func::FuncOp func, std::vector<HostTensor> inputs,
                       ParamStore &params, OpProfile *profile) {
  if (func.getBody().getBlocks().size() != 1)
    return func.emitOpError("the interpreter runs single-block functions");
  Interpreter interpreter(func, params, profile);
  return interpreter.run(std::move(inputs));
}
