//===- BuildTraining.cpp - the gpipe-build-training pass ------------------===//

#include "gpipe/Dialect/GPipeOps.h"
#include "gpipe/Dialect/GradientBuilder.h"
#include "gpipe/Transforms/Autodiff.h"
#include "gpipe/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/StringSet.h"

#include <set>

namespace mlir::gpipe {
#define GEN_PASS_DEF_BUILDTRAINING
#include "gpipe/Transforms/Passes.h.inc"
} // namespace mlir::gpipe

using namespace mlir;
using namespace mlir::gpipe;

namespace {
RankedTensorType typeOf(Value v) { return cast<RankedTensorType>(v.getType()); }

struct BuildTrainingPass : public gpipe::impl::BuildTrainingBase<BuildTrainingPass> {
  using BuildTrainingBase::BuildTrainingBase;

  void runOnOperation() override {
    if (failed(run()))
      signalPassFailure();
  }

private:
  LogicalResult run();
  LogicalResult checkOptions(Location loc);
  FailureOr<Value> buildLoss(GradientBuilder &g, func::FuncOp step, Value out);
  /// A zero-initialized parameter `name` of `type` (error if the symbol
  /// exists).
  FailureOr<ParamOp> declareZeroParam(Location loc, StringRef name, RankedTensorType type);
  /// A zero-initialized state parameter `<param>.<suffix>` of `type`.
  FailureOr<Value> state(GradientBuilder &g, StringRef param, StringRef suffix, Type type);
  Value optimizerUpdate(GradientBuilder &g, StringRef name, Value p, Value grad, Value stepCount);
  void buildEvalFunction(func::FuncOp forward);
  LogicalResult buildLossWeightFunction(func::FuncOp lossFn, StringRef name);
  /// Gives the step's training-mode dropouts their random stream.
  LogicalResult addDropoutStream(func::FuncOp step);
  /// Clipping, the step count and every parameter's optimizer update, stored
  /// with gpipe.set_param; `current(name)` reads a parameter's value.
  LogicalResult applyUpdates(OpBuilder &builder, GradientBuilder &g, Location loc,
                             SmallVector<std::pair<StringRef, Value>> trained,
                             llvm::function_ref<Value(StringRef)> current);
  /// `@<step>_loss` (the forward and the loss) and `@<step>_update` (the
  /// update from given gradients), for pipelined training.
  LogicalResult buildPipelineFunctions(func::FuncOp step, Value lossValue,
                                       ArrayRef<std::pair<StringRef, Value>> trained);

  ModuleOp module;
  /// Optimizer state already declared is read, not declared again.
  bool stateDeclared = false;
};

LogicalResult BuildTrainingPass::checkOptions(Location loc) {
  static const llvm::StringSet<> losses = {"cross-entropy", "nll", "mse", "l1",
                                           "bce-with-logits", "output"};
  static const llvm::StringSet<> optimizers = {"sgd", "momentum", "adam", "adamw"};
  if (!losses.contains(loss))
    return emitError(loc) << "gpipe-build-training: unknown loss '" << loss
                          << "' (cross-entropy, nll, mse, l1, bce-with-logits, output)";
  if (!optimizers.contains(optimizer))
    return emitError(loc) << "gpipe-build-training: unknown optimizer '" << optimizer
                          << "' (sgd, momentum, adam, adamw)";
  if (!(lr > 0))
    return emitError(loc) << "gpipe-build-training: lr must be positive";
  if (batchNorm != "micro-batch" && batchNorm != "deferred")
    return emitError(loc) << "gpipe-build-training: batch-norm must be micro-batch or deferred, "
                             "got '"
                          << batchNorm << "'";
  if (batchNorm == "deferred" && !pipelineFunctions)
    return emitError(loc) << "gpipe-build-training: batch-norm=deferred applies to "
                             "pipeline-functions only";
  if (momentum < 0 || beta1 < 0 || beta1 >= 1 || beta2 < 0 || beta2 >= 1 || eps <= 0 ||
      weightDecay < 0 || gradClip < 0)
    return emitError(loc) << "gpipe-build-training: momentum, beta1, beta2 must be in [0, 1), "
                             "eps positive, weight-decay and grad-clip non-negative";
  return success();
}

FailureOr<Value> BuildTrainingPass::buildLoss(GradientBuilder &g, func::FuncOp step, Value out) {
  auto outType = typeOf(out);
  Location loc = g.getLoc();
  if (loss == "output") {
    if (outType.getRank() != 0 || !isa<FloatType>(outType.getElementType()))
      return emitError(loc) << "gpipe-build-training: loss=output needs the model's first "
                               "output to be a float scalar, got "
                            << outType;
    return out;
  }
  Type labelType = outType;
  std::optional<int64_t> flatRows; // Classes last: scores and labels flattened to rows.
  bool classLoss = loss == "cross-entropy" || loss == "nll";
  if (classLoss) {
    int64_t rank = outType.getRank();
    int64_t axis = classAxis < 0 ? classAxis + rank : classAxis;
    if (rank < 2 || axis < 1 || axis >= rank)
      return emitError(loc) << "gpipe-build-training: loss=" << loss << " needs scores of rank "
                            << ">= 2 with the class dimension (" << classAxis
                            << ") after the batch dimension, got " << outType;
    if (axis == rank - 1 && rank > 2 && outType.hasStaticShape()) {
      // Classes last (a language model's [batch, positions, vocabulary]):
      // the rows [batch * positions, classes] are the same elements in the
      // same order, each row's classes contiguous for the softmax. A
      // transpose to [batch, classes, positions] would copy the scores and
      // leave the softmax striding across them. Mean, ignore_index and
      // class weights are over all positions either way.
      SmallVector<int64_t> shape(outType.getShape().drop_back());
      int64_t rows = 1;
      for (int64_t d : shape)
        rows *= d;
      out = g.make<ReshapeOp>(out, {g.named("shape", g.i64Array({rows, outType.getDimSize(axis)}))});
      labelType = RankedTensorType::get(shape, IntegerType::get(&getContext(), 64));
      flatRows = rows;
    } else if (axis != 1) {
      // Bring the classes to dimension 1, where the loss ops expect them.
      SmallVector<int64_t> perm{0, axis};
      for (int64_t d = 1; d < rank; ++d)
        if (d != axis)
          perm.push_back(d);
      out = g.make<TransposeOp>(out, {g.named("perm", g.i64Array(perm))});
      outType = typeOf(out);
    }
    if (!flatRows) {
      SmallVector<int64_t> shape{outType.getDimSize(0)};
      llvm::append_range(shape, outType.getShape().drop_front(2));
      labelType = RankedTensorType::get(shape, IntegerType::get(&getContext(), 64));
    }
  }
  Block &body = step.getBody().front();
  Value label = body.addArgument(labelType, loc);
  step.setType(FunctionType::get(&getContext(), body.getArgumentTypes(),
                                 step.getFunctionType().getResults()));
  step.setArgAttr(cast<BlockArgument>(label).getArgNumber(), "gpipe.name",
                  StringAttr::get(&getContext(), labelName));
  if (flatRows)
    label = g.make<ReshapeOp>(label, {g.named("shape", g.i64Array({*flatRows}))});
  auto mean = g.named("reduction", LossReductionAttr::get(&getContext(), LossReduction::Mean));
  if (loss == "cross-entropy")
    return g.make<SoftmaxCrossEntropyOp>({out, label}, {mean});
  if (loss == "nll")
    return g.make<NllLossOp>({out, label}, {mean});
  SmallVector<int64_t> all;
  for (int64_t d = 0; d < outType.getRank(); ++d)
    all.push_back(d);
  auto meanAll = [&](Value v) {
    return g.make<ReduceMeanOp>(v, {g.named("axes", g.i64Array(all)),
                                    g.named("keep_dims", g.builder().getBoolAttr(false))});
  };
  Type t = outType.getElementType();
  Value diff = g.sub(out, label);
  if (loss == "mse")
    return meanAll(g.mul(diff, diff));
  if (loss == "l1")
    return meanAll(g.same<AbsOp>(diff));
  // bce-with-logits, stable: max(x, 0) - x t + log(1 + exp(-|x|)).
  Value relu = g.same<ReluOp>(out);
  Value softplus = g.same<LogOp>(
      g.add(g.scalar(t, 1), g.same<ExpOp>(g.neg(g.same<AbsOp>(out)))));
  return meanAll(g.add(g.sub(relu, g.mul(out, label)), softplus));
}

FailureOr<ParamOp> BuildTrainingPass::declareZeroParam(Location loc, StringRef name,
                                                       RankedTensorType type) {
  if (module.lookupSymbol(name))
    return emitError(loc) << "gpipe-build-training: the module already has a symbol @" << name;
  OpBuilder mb(&getContext());
  mb.setInsertionPointToStart(module.getBody());
  return ParamOp::create(mb, loc, name, type, StringAttr(), StringAttr(), /*zero_init=*/true,
                         /*trainable=*/false);
}

FailureOr<Value> BuildTrainingPass::state(GradientBuilder &g, StringRef param,
                                          StringRef suffix, Type type) {
  std::string name = (param + "." + suffix).str();
  if (stateDeclared && module.lookupSymbol<ParamOp>(name))
    return GetParamOp::create(g.builder(), g.getLoc(), type,
                              FlatSymbolRefAttr::get(&getContext(), name))
        .getResult();
  if (module.lookupSymbol(name))
    return emitError(g.getLoc()) << "gpipe-build-training: the module already has a symbol @"
                                 << name << " for optimizer state";
  OpBuilder mb(&getContext());
  mb.setInsertionPointToStart(module.getBody());
  ParamOp::create(mb, g.getLoc(), name, cast<RankedTensorType>(type), StringAttr(),
                  StringAttr(), /*zero_init=*/true, /*trainable=*/false);
  return GetParamOp::create(g.builder(), g.getLoc(), type,
                            FlatSymbolRefAttr::get(&getContext(), name))
      .getResult();
}

Value BuildTrainingPass::optimizerUpdate(GradientBuilder &g, StringRef name, Value p,
                                         Value grad, Value stepCount) {
  Type t = typeOf(p).getElementType();
  auto c = [&](double v) { return g.scalar(t, v); };
  auto store = [&](StringRef stateName, Value v) {
    SetParamOp::create(g.builder(), g.getLoc(),
                       FlatSymbolRefAttr::get(&getContext(), stateName), v);
  };
  if (optimizer == "adamw" && weightDecay > 0)
    p = g.mul(p, c(1 - lr * weightDecay));
  else if (weightDecay > 0)
    grad = g.add(grad, g.mul(p, c(weightDecay)));
  if (optimizer == "sgd")
    return g.sub(p, g.mul(grad, c(lr)));
  if (optimizer == "momentum") {
    auto buf = state(g, name, "momentum", p.getType());
    if (failed(buf))
      return Value();
    Value next = g.add(g.mul(*buf, c(momentum)), grad);
    store((name + ".momentum").str(), next);
    return g.sub(p, g.mul(next, c(lr)));
  }
  auto m = state(g, name, "adam_m", p.getType());
  auto v = state(g, name, "adam_v", p.getType());
  if (failed(m) || failed(v))
    return Value();
  Value m1 = g.add(g.mul(*m, c(beta1)), g.mul(grad, c(1 - beta1)));
  Value v1 = g.add(g.mul(*v, c(beta2)), g.mul(g.mul(grad, grad), c(1 - beta2)));
  store((name + ".adam_m").str(), m1);
  store((name + ".adam_v").str(), v1);
  Value bc1 = g.sub(c(1), g.make<PowOp>({c(beta1), stepCount}));
  Value bc2 = g.sub(c(1), g.make<PowOp>({c(beta2), stepCount}));
  Value denom = g.add(g.same<SqrtOp>(g.div(v1, bc2)), c(eps));
  return g.sub(p, g.mul(g.div(g.div(m1, bc1), denom), c(lr)));
}

LogicalResult BuildTrainingPass::applyUpdates(OpBuilder &builder, GradientBuilder &g,
                                              Location loc,
                                              SmallVector<std::pair<StringRef, Value>> trained,
                                              llvm::function_ref<Value(StringRef)> current) {
  if (gradClip > 0) {
    // PyTorch's clip_grad_norm_: scale by min(1, clip / (norm + 1e-6)).
    Type t = typeOf(trained.front().second).getElementType();
    Value total;
    for (auto &[name, grad] : trained) {
      SmallVector<int64_t> all;
      for (int64_t d = 0; d < typeOf(grad).getRank(); ++d)
        all.push_back(d);
      Value sq = g.mul(grad, grad);
      Value s = all.empty() ? sq : g.reduceSum(sq, all, /*keepDims=*/false);
      total = total ? g.add(total, s) : s;
    }
    Value norm = g.same<SqrtOp>(total);
    Value coef = g.make<MinOp>(
        {g.div(g.scalar(t, gradClip), g.add(norm, g.scalar(t, 1e-6))), g.scalar(t, 1)});
    for (auto &entry : trained)
      entry.second = g.mul(entry.second, coef);
  }

  Value stepCount;
  if (optimizer == "adam" || optimizer == "adamw") {
    Type t = typeOf(trained.front().second).getElementType();
    auto count = state(g, "__gpipe", "step", RankedTensorType::get({}, t));
    if (failed(count))
      return failure();
    stepCount = g.add(*count, g.scalar(t, 1));
    SetParamOp::create(builder, loc, FlatSymbolRefAttr::get(&getContext(), "__gpipe.step"),
                       stepCount);
  }
  for (auto &[name, grad] : trained) {
    auto param = module.lookupSymbol<ParamOp>(name);
    g.setLoc(param.getLoc());
    Value next = optimizerUpdate(g, name, current(name), grad, stepCount);
    if (!next || g.failed())
      return failure();
    SetParamOp::create(builder, param.getLoc(), FlatSymbolRefAttr::get(&getContext(), name),
                       next);
  }
  return success();
}

/// Training-mode dropouts draw their masks from a stream that a new
/// `tensor<2xi64>` argument of the step names (`gpipe.rng`): the executor
/// passes [step number, micro-batch], so every step draws new masks, a
/// recomputing backward replays its forward's, and micro-batch m draws its
/// rows of the mini-batch's mask. Dropouts without a seed get distinct ones
/// (the smallest the model's dropouts do not use), so runs are reproducible.
LogicalResult BuildTrainingPass::addDropoutStream(func::FuncOp step) {
  Block &body = step.getBody().front();
  SmallVector<DropoutOp> dropouts;
  std::set<int64_t> usedSeeds;
  for (auto dropout : body.getOps<DropoutOp>()) {
    if (!dropout.getTraining())
      continue;
    if (dropout.getRng())
      return dropout.emitError("gpipe-build-training: dropout already has a random stream");
    if (auto seed = dropout.getSeed())
      usedSeeds.insert(static_cast<int64_t>(*seed));
    dropouts.push_back(dropout);
  }
  if (dropouts.empty())
    return success();
  MLIRContext *ctx = &getContext();
  auto type = RankedTensorType::get({2}, IntegerType::get(ctx, 64));
  Value rng = body.addArgument(type, step.getLoc());
  step.setType(FunctionType::get(ctx, body.getArgumentTypes(),
                                 step.getFunctionType().getResults()));
  unsigned index = cast<BlockArgument>(rng).getArgNumber();
  step.setArgAttr(index, "gpipe.name", StringAttr::get(ctx, "__gpipe.rng"));
  step.setArgAttr(index, "gpipe.rng", UnitAttr::get(ctx));
  int64_t next = 0;
  for (DropoutOp dropout : dropouts) {
    dropout.getRngMutable().assign(rng);
    if (dropout.getSeed())
      continue;
    while (usedSeeds.count(next))
      ++next;
    dropout.setSeedAttr(IntegerAttr::get(IntegerType::get(ctx, 64), next++));
  }
  return success();
}

/// `@<step>_loss_weight`: the loss function's arguments to the total label
/// weight its mean loss divides by (the kept labels' class weights, or their
/// count): the loss function's labels, ignore index and class weights, none
/// of its forward.
LogicalResult BuildTrainingPass::buildLossWeightFunction(func::FuncOp lossFn, StringRef name) {
  auto fn = cast<func::FuncOp>(lossFn->clone());
  fn.setSymName(name);
  module.getBody()->getOperations().insertAfter(Block::iterator(lossFn), fn);
  Block &body = fn.getBody().front();
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  Operation *loss = ret.getOperand(0).getDefiningOp();
  Value labels, weights;
  std::optional<int64_t> ignore;
  Type elt;
  if (auto ce = dyn_cast_or_null<SoftmaxCrossEntropyOp>(loss)) {
    labels = ce.getLabels(), weights = ce.getWeights(), ignore = ce.getIgnoreIndex();
    elt = typeOf(ce.getScores()).getElementType();
  } else if (auto nll = dyn_cast_or_null<NllLossOp>(loss)) {
    labels = nll.getLabels(), weights = nll.getWeights(), ignore = nll.getIgnoreIndex();
    elt = typeOf(nll.getInput()).getElementType();
  } else {
    fn.erase();
    return lossFn.emitError("gpipe-build-training: the loss function does not return its "
                            "weighted mean loss");
  }
  OpBuilder b(ret);
  GradientBuilder g(b, loss->getLoc());
  auto labelType = typeOf(labels);
  // Each label's weight: 0 when ignored, else its class weight (or 1).
  Value weight = g.splat(labelType.clone(elt), 1.0);
  Value kept;
  if (ignore) {
    // The index exactly (a double would round one beyond 2^53).
    Value ignoreValue = ConstantOp::create(
        b, loss->getLoc(),
        cast<ElementsAttr>(DenseElementsAttr::get(
            labelType, b.getIntegerAttr(labelType.getElementType(), *ignore))));
    Value ignored = g.make<EqualOp>({labels, ignoreValue});
    kept = g.same<NotOp>(ignored);
    weight = g.make<CastOp>(kept, {g.named("to", TypeAttr::get(elt))});
  }
  if (weights) {
    // A gather by an ignored label (often -100) would be out of range.
    Value index = kept ? g.make<WhereOp>({kept, labels, g.splat(labelType, 0.0)}) : labels;
    Value classWeight = g.make<GatherOp>({weights, index}, {g.named("axis", b.getI64IntegerAttr(0))});
    weight = kept ? g.mul(weight, classWeight) : classWeight;
  }
  SmallVector<int64_t> all;
  for (int64_t d = 0; d < labelType.getRank(); ++d)
    all.push_back(d);
  Value total = g.reduceSum(weight, all, /*keepDims=*/false);
  if (g.failed() || !total) {
    fn.erase();
    return failure();
  }
  func::ReturnOp::create(b, ret.getLoc(), total);
  ret.erase();
  // Nothing of the forward: no stored state, no ops the total does not use
  // (dropout, which draws random numbers, is not free of effects).
  for (Operation &op : llvm::make_early_inc_range(body))
    if (isa<SetParamOp>(op))
      op.erase();
  for (Operation &op : llvm::make_early_inc_range(llvm::reverse(body)))
    if (op.use_empty() && !op.hasTrait<OpTrait::IsTerminator>())
      op.erase();
  fn.setType(FunctionType::get(&getContext(), body.getArgumentTypes(), {total.getType()}));
  fn.setResultAttr(0, "gpipe.name", b.getStringAttr("loss_weight"));
  return success();
}

LogicalResult
BuildTrainingPass::buildPipelineFunctions(func::FuncOp step, Value lossValue,
                                          ArrayRef<std::pair<StringRef, Value>> trained) {
  Block &body = step.getBody().front();
  // A mean over the kept or weighted labels is not the mean of equal
  // micro-batch means: micro-batch m's loss then counts with its share of
  // the mini-batch's label weight, which a third function computes from the
  // labels alone (before the pipeline runs, so 1F1B's early backwards have
  // it). That is exact when the loss is that mean itself.
  Operation *weightedLoss = nullptr;
  for (Operation &op : body) {
    auto weightedMean = [&](auto loss) {
      return loss.getReduction() == LossReduction::Mean &&
             (loss.getIgnoreIndex() || loss.getWeights());
    };
    bool inexact = false;
    if (auto ce = dyn_cast<SoftmaxCrossEntropyOp>(op))
      inexact = weightedMean(ce);
    else if (auto nll = dyn_cast<NllLossOp>(op))
      inexact = weightedMean(nll);
    if (!inexact)
      continue;
    if (weightedLoss || op.getResult(0) != lossValue)
      return op.emitError("gpipe-build-training: pipeline-functions needs a mean over kept "
                          "(ignore_index) or weighted labels to be the loss itself; this one "
                          "does not split into micro-batches");
    weightedLoss = &op;
  }
  std::string lossName = stepFunction + "_loss";
  std::string updateName = stepFunction + "_update";
  std::string weightName = stepFunction + "_loss_weight";
  for (const std::string &name : {lossName, updateName, weightName})
    if (module.lookupSymbol(name))
      return module.emitError("gpipe-build-training: the module already has a symbol @") << name;

  // The loss function: the step as it is now (forward and loss, before the
  // backward), returning the loss and the model's outputs.
  IRMapping map;
  auto lossFn = cast<func::FuncOp>(step->clone(map));
  lossFn.setSymName(lossName);
  module.getBody()->getOperations().insertAfter(Block::iterator(step), lossFn);
  Block &lossBody = lossFn.getBody().front();
  auto oldRet = cast<func::ReturnOp>(lossBody.getTerminator());
  // Ops built after the loss (the backward so far) are not part of it.
  Operation *lossOp = map.lookup(lossValue).getDefiningOp();
  for (Operation &op : llvm::make_early_inc_range(llvm::reverse(lossBody)))
    if (&op != oldRet && lossOp && lossOp->isBeforeInBlock(&op) && op.use_empty())
      op.erase();
  SmallVector<Value> results{map.lookup(lossValue)};
  llvm::append_range(results, oldRet.getOperands());
  OpBuilder lb(oldRet);
  func::ReturnOp::create(lb, oldRet.getLoc(), results);
  SmallVector<Attribute> resultAttrs{DictionaryAttr::get(
      &getContext(), {lb.getNamedAttr("gpipe.name", lb.getStringAttr("loss"))})};
  if (ArrayAttr old = step.getAllResultAttrs())
    llvm::append_range(resultAttrs, old.getValue());
  else
    resultAttrs.append(oldRet.getNumOperands(), DictionaryAttr::get(&getContext()));
  oldRet.erase();
  // Training-mode batch norms store their running statistics right after
  // they compute them, so the statistics stay on the batch norm's stage:
  // each micro-batch normalizes with its own statistics and updates the
  // running ones, as GPipe does. With batch-norm=deferred each micro-batch
  // instead adds its per-channel mean and mean square (and 1 to a count) to
  // zero-initialized sums, from which the update function computes the
  // mini-batch's statistics, updates the running ones once and clears the
  // sums.
  struct Deferred {
    BatchNormTrainOp bn;
    StringAttr mean, var;
    std::string sum, squares, count;
    double perMicroBatch;
  };
  SmallVector<Deferred> deferred;
  for (auto bn : llvm::make_early_inc_range(lossBody.getOps<BatchNormTrainOp>())) {
    auto meanParam = bn.getRunningMean().getDefiningOp<GetParamOp>();
    auto varParam = bn.getRunningVar().getDefiningOp<GetParamOp>();
    OpBuilder after(bn->getContext());
    after.setInsertionPointAfter(bn);
    if (batchNorm != "deferred") {
      for (auto [get, next] : {std::pair{meanParam, bn.getNewRunningMean()},
                               std::pair{varParam, bn.getNewRunningVar()}})
        if (get)
          SetParamOp::create(after, bn.getLoc(), get.getNameAttr(), next);
      continue;
    }
    if (!meanParam || !varParam)
      return bn.emitError("gpipe-build-training: batch-norm=deferred needs running statistics "
                          "that are parameters");
    auto statType = cast<RankedTensorType>(bn.getRunningMean().getType());
    auto inputType = cast<RankedTensorType>(bn.getInput().getType());
    Type elt = statType.getElementType();
    auto countType = RankedTensorType::get({}, elt);
    Deferred d{bn, meanParam.getNameAttr().getAttr(), varParam.getNameAttr().getAttr(),
               (meanParam.getName() + ".minibatch_sum").str(),
               (varParam.getName() + ".minibatch_squares").str(),
               (meanParam.getName() + ".minibatch_count").str(), 1.0};
    SmallVector<int64_t> axes{0};
    for (int64_t a = 2; a < inputType.getRank(); ++a)
      axes.push_back(a);
    for (int64_t a : axes)
      d.perMicroBatch *= static_cast<double>(inputType.getDimSize(a));
    if (failed(declareZeroParam(bn.getLoc(), d.sum, statType)) ||
        failed(declareZeroParam(bn.getLoc(), d.squares, statType)) ||
        failed(declareZeroParam(bn.getLoc(), d.count, countType)))
      return failure();
    GradientBuilder bg(after, bn.getLoc());
    Value x = bn.getInput();
    Value n = bg.scalar(elt, d.perMicroBatch);
    Value mean = bg.div(bg.reduceSum(x, axes, false), n);
    Value squares = bg.div(bg.reduceSum(bg.mul(x, x), axes, false), n);
    auto accumulate = [&](StringRef name, Type type, Value add) {
      auto ref = FlatSymbolRefAttr::get(&getContext(), name);
      Value old = GetParamOp::create(after, bn.getLoc(), type, ref);
      SetParamOp::create(after, bn.getLoc(), ref, bg.add(old, add));
    };
    accumulate(d.sum, statType, mean);
    accumulate(d.squares, statType, squares);
    accumulate(d.count, countType, bg.scalar(elt, 1.0));
    if (bg.failed())
      return failure();
    deferred.push_back(std::move(d));
  }
  lossFn.setType(FunctionType::get(&getContext(), lossBody.getArgumentTypes(),
                                   ValueRange(results).getTypes()));
  lossFn.setAllResultAttrs(resultAttrs);
  eraseDeadOps(lossBody);
  if (weightedLoss && failed(buildLossWeightFunction(lossFn, weightName)))
    return failure();
  // A sum over the batch (a loss op with reduction = sum) is the sum of the
  // micro-batch sums, not their mean: the executors seed each with 1.
  Operation *lossDef = lossValue.getDefiningOp();
  bool summed = false;
  if (auto ce = dyn_cast_or_null<SoftmaxCrossEntropyOp>(lossDef))
    summed = ce.getReduction() == LossReduction::Sum;
  else if (auto nll = dyn_cast_or_null<NllLossOp>(lossDef))
    summed = nll.getReduction() == LossReduction::Sum;
  if (summed)
    lossFn->setAttr("gpipe.loss_sum", UnitAttr::get(&getContext()));

  // The update function: one argument per trained parameter's gradient.
  OpBuilder ub(&getContext());
  ub.setInsertionPointAfter(lossFn);
  SmallVector<Type> gradTypes;
  SmallVector<Attribute> argAttrs;
  for (auto &[name, grad] : trained) {
    gradTypes.push_back(grad.getType());
    argAttrs.push_back(DictionaryAttr::get(
        &getContext(), {ub.getNamedAttr("gpipe.param", FlatSymbolRefAttr::get(&getContext(), name))}));
  }
  auto update = func::FuncOp::create(ub, step.getLoc(), updateName,
                                     FunctionType::get(&getContext(), gradTypes, {}));
  update.setAllArgAttrs(argAttrs);
  Block *entry = update.addEntryBlock();
  ub.setInsertionPointToStart(entry);
  auto retOp = func::ReturnOp::create(ub, step.getLoc(), ValueRange());
  ub.setInsertionPoint(retOp);
  GradientBuilder ug(ub, step.getLoc());
  SmallVector<std::pair<StringRef, Value>> fromArgs;
  llvm::StringMap<Value> current;
  for (auto [i, entry2] : llvm::enumerate(trained)) {
    fromArgs.push_back({entry2.first, entry->getArgument(i)});
    current[entry2.first] =
        GetParamOp::create(ub, step.getLoc(), entry2.second.getType(),
                           FlatSymbolRefAttr::get(&getContext(), entry2.first))
            .getResult();
  }
  stateDeclared = false;
  if (failed(applyUpdates(ub, ug, step.getLoc(), fromArgs,
                          [&](StringRef name) { return current.lookup(name); })))
    return failure();
  // Deferred batch norm: the mini-batch's statistics from the micro-batches'
  // sums (equal micro-batches: the mean of their means and of their mean
  // squares), the running statistics updated once, the sums cleared.
  for (Deferred &d : deferred) {
    Location loc = d.bn.getLoc();
    auto statType = cast<RankedTensorType>(d.bn.getRunningMean().getType());
    Type elt = statType.getElementType();
    auto countType = RankedTensorType::get({}, elt);
    GradientBuilder dg(ub, loc);
    auto read = [&](StringRef name, Type type) -> Value {
      return GetParamOp::create(ub, loc, type, FlatSymbolRefAttr::get(&getContext(), name));
    };
    auto store = [&](StringRef name, Value v) {
      SetParamOp::create(ub, loc, FlatSymbolRefAttr::get(&getContext(), name), v);
    };
    Value count = read(d.count, countType);
    Value mean = dg.div(read(d.sum, statType), count);
    Value var = dg.sub(dg.div(read(d.squares, statType), count), dg.mul(mean, mean));
    if (d.bn.getUnbiasedVarUpdate()) {
      // PyTorch's unbiased variance over all n = count * perMicroBatch values.
      Value n = dg.mul(count, dg.scalar(elt, d.perMicroBatch));
      var = dg.div(dg.mul(var, n), dg.sub(n, dg.scalar(elt, 1.0)));
    }
    double m = d.bn.getMomentum().convertToDouble();
    auto blend = [&](StringAttr name, Value batch) {
      Value old = read(name, statType);
      store(name, dg.add(dg.mul(old, dg.scalar(elt, m)), dg.mul(batch, dg.scalar(elt, 1.0 - m))));
    };
    blend(d.mean, mean);
    blend(d.var, var);
    store(d.sum, dg.splat(statType, 0.0));
    store(d.squares, dg.splat(statType, 0.0));
    store(d.count, dg.splat(countType, 0.0));
    if (dg.failed())
      return failure();
  }
  // The step declares the same state; it reads it.
  stateDeclared = true;
  return success();
}

void BuildTrainingPass::buildEvalFunction(func::FuncOp forward) {
  auto eval = cast<func::FuncOp>(forward->clone());
  eval.setSymName(evalFunction);
  module.getBody()->getOperations().insertAfter(Block::iterator(forward), eval);
  eval.walk([&](Operation *op) {
    OpBuilder b(op);
    if (auto bn = dyn_cast<BatchNormTrainOp>(op)) {
      auto inference = BatchNormOp::create(b, bn.getLoc(), bn.getOutput().getType(),
                                           bn.getInput(), bn.getScale(), bn.getBias(),
                                           bn.getRunningMean(), bn.getRunningVar(),
                                           bn.getEpsilonAttr());
      bn.getOutput().replaceAllUsesWith(inference.getResult());
      bn.getNewRunningMean().replaceAllUsesWith(bn.getRunningMean());
      bn.getNewRunningVar().replaceAllUsesWith(bn.getRunningVar());
      bn.erase();
    } else if (auto dropout = dyn_cast<DropoutOp>(op)) {
      dropout.setTraining(false);
    }
  });
}

LogicalResult BuildTrainingPass::run() {
  module = getOperation();
  auto forward = module.lookupSymbol<func::FuncOp>(function);
  if (!forward)
    return module.emitError("gpipe-build-training: the module has no function @") << function;
  if (failed(checkOptions(forward.getLoc())))
    return failure();
  for (StringRef name : {StringRef(stepFunction), StringRef(evalFunction)})
    if (!name.empty() && module.lookupSymbol(name))
      return module.emitError("gpipe-build-training: the module already has a symbol @")
             << name;
  for (const std::string &name : frozen) {
    auto param = module.lookupSymbol<ParamOp>(name);
    if (!param)
      return module.emitError("gpipe-build-training: frozen parameter '")
             << name << "' is not a parameter of the model";
  }

  auto step = cast<func::FuncOp>(forward->clone());
  step.setSymName(stepFunction);
  module.getBody()->getOperations().insertAfter(Block::iterator(forward), step);
  Block &body = step.getBody().front();
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  if (ret.getNumOperands() == 0)
    return forward.emitError("gpipe-build-training: the model function returns nothing");
  OpBuilder builder(ret);
  GradientBuilder g(builder, ret.getLoc());
  auto lossValue = buildLoss(g, step, ret.getOperand(0));
  if (failed(lossValue) || g.failed() || failed(addDropoutStream(step)))
    return failure();

  // The parameters the step may train, by symbol.
  llvm::StringSet<> frozenNames;
  for (const std::string &name : frozen)
    frozenNames.insert(name);
  llvm::MapVector<StringRef, SmallVector<Value>> reads;
  for (auto get : body.getOps<GetParamOp>())
    if (isa<FloatType>(typeOf(get.getResult()).getElementType()) &&
        !frozenNames.contains(get.getName()))
      reads[get.getName()].push_back(get.getResult());
  SmallVector<Value> wrt;
  for (auto &entry : reads)
    llvm::append_range(wrt, entry.second);
  auto grads = buildGradients(builder, *lossValue, wrt);
  if (failed(grads))
    return failure();

  // One gradient per parameter, summing over its reads.
  SmallVector<std::pair<StringRef, Value>> trained;
  size_t k = 0;
  for (auto &entry : reads) {
    Value sum;
    for (size_t i = 0; i < entry.second.size(); ++i, ++k)
      if (Value gr = (*grads)[k])
        sum = sum ? g.add(sum, gr) : gr;
    if (sum)
      trained.push_back({entry.first, sum});
  }
  if (trained.empty())
    return forward.emitError("gpipe-build-training: the loss depends on no trainable parameter");

  for (auto &[name, grad] : trained)
    module.lookupSymbol<ParamOp>(name).setTrainable(true);
  if (pipelineFunctions) {
    OpBuilder::InsertionGuard guard(builder);
    if (failed(buildPipelineFunctions(step, *lossValue, trained)))
      return failure();
  }
  if (failed(applyUpdates(builder, g, ret.getLoc(), trained,
                          [&](StringRef name) { return reads[name].front(); })))
    return failure();
  // Training-mode batch norms keep their running statistics.
  for (auto bn : llvm::make_early_inc_range(body.getOps<BatchNormTrainOp>()))
    for (auto [stat, next] : {std::pair{bn.getRunningMean(), bn.getNewRunningMean()},
                              std::pair{bn.getRunningVar(), bn.getNewRunningVar()}})
      if (auto get = stat.getDefiningOp<GetParamOp>())
        SetParamOp::create(builder, bn.getLoc(), get.getNameAttr(), next);

  SmallVector<Value> results{*lossValue};
  llvm::append_range(results, ret.getOperands());
  SmallVector<Attribute> resultNames{
      DictionaryAttr::get(&getContext(), {builder.getNamedAttr(
                                             "gpipe.name", builder.getStringAttr("loss"))})};
  if (ArrayAttr old = step.getAllResultAttrs())
    llvm::append_range(resultNames, old.getValue());
  else
    resultNames.append(ret.getNumOperands(), DictionaryAttr::get(&getContext()));
  func::ReturnOp::create(builder, ret.getLoc(), results);
  ret.erase();
  step.setType(FunctionType::get(&getContext(), body.getArgumentTypes(),
                                 ValueRange(results).getTypes()));
  step.setAllResultAttrs(resultNames);
  eraseDeadOps(body);
  if (!evalFunction.empty())
    buildEvalFunction(forward);
  return success();
}
} // namespace
