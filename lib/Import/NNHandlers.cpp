//===- NNHandlers.cpp - ONNX matmul, conv, pool, norm, loss, reduce ops ---===//

#include "ImporterImpl.h"

#include "llvm/Support/FormatVariadic.h"

#include <functional>

using namespace mlir;
using namespace mlir::gpipe;
using namespace mlir::gpipe::import;

namespace {
LogicalResult rejectUsedOutputs(NodeContext &ctx, int from, StringRef what) {
  for (int i = from; i < ctx.numOutputs(); ++i)
    if (ctx.outputUsed(i))
      return ctx.fail(llvm::formatv("output {0} ({1}) is not supported", i, what)
                          .str());
  return success();
}

LogicalResult convertMatMul(NodeContext &ctx) {
  auto a = ctx.input(0), b = ctx.input(1);
  if (failed(a) || failed(b))
    return failure();
  return ctx.setResult(ctx.create1<MatMulOp>(ValueRange{*a, *b}));
}

LogicalResult convertGemm(NodeContext &ctx) {
  auto a = ctx.input(0), b = ctx.input(1), c = ctx.optionalInput(2);
  if (failed(a) || failed(b) || failed(c))
    return failure();
  auto &bld = ctx.builder();
  SmallVector<Value> operands{*a, *b};
  if (*c)
    operands.push_back(*c);
  return ctx.setResult(ctx.create1<GemmOp>(
               operands,
               {ctx.named("alpha", bld.getF32FloatAttr(ctx.attrFloat("alpha", 1.0f))),
                ctx.named("beta", bld.getF32FloatAttr(ctx.attrFloat("beta", 1.0f))),
                ctx.named("trans_a", bld.getBoolAttr(ctx.attrInt("transA", 0))),
                ctx.named("trans_b", bld.getBoolAttr(ctx.attrInt("transB", 0)))}));
}

/// Reads kernel_shape/strides/pads/dilations/auto_pad of a 2-D window op and
/// turns auto_pad into explicit pads.
struct WindowAttrs {
  SmallVector<int64_t> kernel, strides, pads, dilations;
};

FailureOr<WindowAttrs> readWindow(NodeContext &ctx, RankedTensorType input,
                                  std::optional<SmallVector<int64_t>> kernel) {
  if (input.getRank() != 4)
    return ctx.fail(llvm::formatv("only 2-D (NCHW) inputs are supported, got "
                                  "rank {0}",
                                  input.getRank())
                        .str());
  WindowAttrs w;
  auto ks = ctx.attrInts("kernel_shape");
  if (ks && kernel && *ks != *kernel)
    return ctx.fail("kernel_shape differs from the weight's spatial shape");
  if (!ks && !kernel)
    return ctx.fail("missing attribute kernel_shape");
  w.kernel = ks ? *ks : *kernel;
  if (w.kernel.size() != 2)
    return ctx.unsupportedAttr("kernel_shape",
                               llvm::formatv("of rank {0} (only 2-D)", w.kernel.size()));
  w.strides = ctx.attrInts("strides").value_or(SmallVector<int64_t>{1, 1});
  w.dilations = ctx.attrInts("dilations").value_or(SmallVector<int64_t>{1, 1});
  w.pads = ctx.attrInts("pads").value_or(SmallVector<int64_t>{0, 0, 0, 0});
  if (w.strides.size() != 2 || w.dilations.size() != 2 || w.pads.size() != 4)
    return ctx.fail("strides, dilations and pads must match 2 spatial dimensions");
  std::string autoPad = ctx.attrString("auto_pad", "NOTSET");
  if (autoPad == "VALID") {
    w.pads = {0, 0, 0, 0};
  } else if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
    for (int i = 0; i < 2; ++i) {
      int64_t in = input.getDimSize(2 + i), s = w.strides[i];
      int64_t out = (in + s - 1) / s;
      int64_t span = w.dilations[i] * (w.kernel[i] - 1) + 1;
      int64_t total = std::max<int64_t>(0, (out - 1) * s + span - in);
      int64_t small = total / 2, large = total - small;
      w.pads[i] = autoPad == "SAME_UPPER" ? small : large;
      w.pads[i + 2] = autoPad == "SAME_UPPER" ? large : small;
    }
  } else if (autoPad != "NOTSET") {
    return ctx.unsupportedAttr("auto_pad", autoPad);
  }
  return w;
}

LogicalResult convertConv(NodeContext &ctx) {
  auto x = ctx.input(0), w = ctx.input(1), b = ctx.optionalInput(2);
  if (failed(x) || failed(w) || failed(b))
    return failure();
  auto wType = cast<RankedTensorType>(w->getType());
  if (wType.getRank() != 4)
    return ctx.fail(llvm::formatv("only 2-D convolution is supported (weight "
                                  "has rank {0})",
                                  wType.getRank())
                        .str());
  auto win = readWindow(ctx, cast<RankedTensorType>(x->getType()),
                        SmallVector<int64_t>(wType.getShape().drop_front(2)));
  if (failed(win))
    return failure();
  SmallVector<Value> operands{*x, *w};
  if (*b)
    operands.push_back(*b);
  return ctx.setResult(ctx.create1<ConvOp>(
               operands, {ctx.named("strides", ctx.i64Array(win->strides)),
                          ctx.named("pads", ctx.i64Array(win->pads)),
                          ctx.named("dilations", ctx.i64Array(win->dilations)),
                          ctx.named("groups", ctx.builder().getI64IntegerAttr(
                                                  ctx.attrInt("group", 1)))}));
}

LogicalResult convertMaxPool(NodeContext &ctx) {
  auto x = ctx.input(0);
  if (failed(x) || failed(rejectUsedOutputs(ctx, 1, "Indices")))
    return failure();
  if (int64_t order = ctx.attrInt("storage_order", 0))
    return ctx.unsupportedAttr("storage_order", llvm::Twine(order));
  auto win = readWindow(ctx, cast<RankedTensorType>(x->getType()), std::nullopt);
  if (failed(win))
    return failure();
  return ctx.setResult(ctx.create1<MaxPoolOp>(
               *x, {ctx.named("kernel", ctx.i64Array(win->kernel)),
                    ctx.named("strides", ctx.i64Array(win->strides)),
                    ctx.named("pads", ctx.i64Array(win->pads)),
                    ctx.named("dilations", ctx.i64Array(win->dilations)),
                    ctx.named("ceil_mode", ctx.builder().getBoolAttr(
                                               ctx.attrInt("ceil_mode", 0)))}));
}

LogicalResult convertAvgPool(NodeContext &ctx) {
  auto x = ctx.input(0);
  if (failed(x))
    return failure();
  auto win = readWindow(ctx, cast<RankedTensorType>(x->getType()), std::nullopt);
  if (failed(win))
    return failure();
  if (win->dilations != SmallVector<int64_t>{1, 1})
    return ctx.unsupportedAttr("dilations", "other than 1");
  auto &bld = ctx.builder();
  return ctx.setResult(ctx.create1<AvgPoolOp>(
               *x, {ctx.named("kernel", ctx.i64Array(win->kernel)),
                    ctx.named("strides", ctx.i64Array(win->strides)),
                    ctx.named("pads", ctx.i64Array(win->pads)),
                    ctx.named("ceil_mode", bld.getBoolAttr(ctx.attrInt("ceil_mode", 0))),
                    ctx.named("count_include_pad",
                              bld.getBoolAttr(ctx.attrInt("count_include_pad", 0)))}));
}

template <typename OpTy>
LogicalResult convertGlobalPool(NodeContext &ctx) {
  auto x = ctx.input(0);
  if (failed(x))
    return failure();
  return ctx.setResult(ctx.create1<OpTy>(*x));
}

LogicalResult convertBatchNorm(NodeContext &ctx) {
  SmallVector<Value> operands;
  for (int i = 0; i < 5; ++i) {
    auto v = ctx.input(i);
    if (failed(v))
      return failure();
    operands.push_back(*v);
  }
  auto &bld = ctx.builder();
  auto eps = ctx.named("epsilon", bld.getF32FloatAttr(ctx.attrFloat("epsilon", 1e-5f)));
  bool training = ctx.opset >= 14 ? ctx.attrInt("training_mode", 0) != 0
                                  : ctx.numOutputs() > 1;
  float momentum = ctx.attrFloat("momentum", 0.9f);
  if (!training) {
    if (failed(rejectUsedOutputs(ctx, 1, "running statistics outside training mode")))
      return failure();
    return ctx.setResult(ctx.create1<BatchNormOp>(operands, {eps}));
  }
  if (ctx.opset < 14 && failed(rejectUsedOutputs(ctx, 3, "saved statistics")))
    return failure();
  SmallVector<NamedAttribute> attrs{eps, ctx.named("momentum", bld.getF32FloatAttr(momentum))};
  // PyTorch's exported training graphs are meant to update the running
  // variance as PyTorch does, with the unbiased batch variance.
  if (ctx.producer == "pytorch")
    attrs.push_back(ctx.named("unbiased_var_update", bld.getUnitAttr()));
  auto op = ctx.create(BatchNormTrainOp::getOperationName(), operands, attrs, 3);
  if (failed(op))
    return failure();
  for (int i = 0; i < 3; ++i)
    ctx.setOutput(i, (*op)->getResult(i));
  return success();
}

/// LayerNormalization's optional Mean and InvStdDev outputs, spelled with
/// reductions over [axis, rank) that keep their dimensions.
LogicalResult layerNormStatistics(NodeContext &ctx, Value x, int64_t axis,
                                  float epsilon) {
  auto type = cast<RankedTensorType>(x.getType());
  SmallVector<int64_t> axes;
  for (int64_t d = axis; d < type.getRank(); ++d)
    axes.push_back(d);
  SmallVector<NamedAttribute> attrs{ctx.named("axes", ctx.i64Array(axes)),
                                    ctx.named("keep_dims", ctx.builder().getBoolAttr(true))};
  auto mean = ctx.create1<ReduceMeanOp>(x, attrs);
  if (failed(mean))
    return failure();
  ctx.setOutput(1, *mean);
  if (!ctx.outputUsed(2))
    return success();
  auto diff = ctx.create1<SubOp>(ValueRange{x, *mean});
  if (failed(diff))
    return failure();
  auto sq = ctx.create1<MulOp>(ValueRange{*diff, *diff});
  if (failed(sq))
    return failure();
  auto var = ctx.create1<ReduceMeanOp>(*sq, attrs);
  if (failed(var))
    return failure();
  auto eps = ctx.create1<AddOp>(ValueRange{*var, ctx.scalarConstant(type.getElementType(), epsilon)});
  if (failed(eps))
    return failure();
  Value root = ctx.createSameType<SqrtOp>(*eps);
  ctx.setOutput(2, ctx.createSameType<ReciprocalOp>(root));
  return success();
}

LogicalResult convertLayerNorm(NodeContext &ctx) {
  auto x = ctx.input(0), scale = ctx.input(1), bias = ctx.optionalInput(2);
  if (failed(x) || failed(scale) || failed(bias))
    return failure();
  if (int64_t stash = ctx.attrInt("stash_type", 1); stash != 1)
    return ctx.unsupportedAttr("stash_type", llvm::Twine(stash));
  auto axis = ctx.normalizeAxis(ctx.attrInt("axis", -1),
                                cast<RankedTensorType>(x->getType()).getRank());
  if (failed(axis))
    return failure();
  SmallVector<Value> operands{*x, *scale};
  if (*bias)
    operands.push_back(*bias);
  auto &bld = ctx.builder();
  float epsilon = ctx.attrFloat("epsilon", 1e-5f);
  if (failed(ctx.setResult(ctx.create1<LayerNormOp>(
          operands, {ctx.named("axis", bld.getI64IntegerAttr(*axis)),
                     ctx.named("epsilon", bld.getF32FloatAttr(epsilon))}))))
    return failure();
  if (ctx.outputUsed(1) || ctx.outputUsed(2))
    return layerNormStatistics(ctx, *x, *axis, epsilon);
  return success();
}

template <typename OpTy>
LogicalResult convertSoftmax(NodeContext &ctx) {
  auto x = ctx.input(0);
  if (failed(x))
    return failure();
  auto axis = ctx.normalizeAxis(ctx.attrInt("axis", -1),
                                cast<RankedTensorType>(x->getType()).getRank());
  if (failed(axis))
    return failure();
  return ctx.setResult(ctx.create1<OpTy>(
                            *x, {ctx.named("axis", ctx.builder().getI64IntegerAttr(*axis))}));
}

LogicalResult convertDropout(NodeContext &ctx) {
  auto x = ctx.input(0);
  if (failed(x))
    return failure();
  double ratio = 0.5;
  bool training = false;
  if (ctx.hasInput(1)) {
    auto r = ctx.constScalar(1, "ratio");
    if (failed(r))
      return failure();
    ratio = *r;
  }
  if (ctx.hasInput(2)) {
    auto t = ctx.constScalar(2, "training_mode");
    if (failed(t))
      return failure();
    training = *t != 0;
  }
  std::optional<int64_t> seed;
  if (ctx.hasAttr("seed"))
    seed = ctx.attrInt("seed", 0);
  if (!training && !ctx.outputUsed(1)) {
    ctx.setOutput(0, *x);
    return success();
  }
  auto &bld = ctx.builder();
  SmallVector<NamedAttribute> attrs{
      ctx.named("ratio", bld.getF32FloatAttr(ratio)),
      ctx.named("training", bld.getBoolAttr(training))};
  if (seed)
    attrs.push_back(ctx.named("seed", bld.getI64IntegerAttr(*seed)));
  auto op = ctx.create(DropoutOp::getOperationName(), *x, attrs, 2);
  if (failed(op))
    return failure();
  ctx.setOutput(0, (*op)->getResult(0));
  ctx.setOutput(1, (*op)->getResult(1));
  return success();
}

template <typename OpTy>
LogicalResult convertClassLoss(NodeContext &ctx) {
  auto scores = ctx.input(0), labels = ctx.input(1), weights = ctx.optionalInput(2);
  if (failed(scores) || failed(labels) || failed(weights))
    return failure();
  std::string red = ctx.attrString("reduction", "mean");
  std::optional<LossReduction> reduction = symbolizeLossReduction(red);
  if (!reduction)
    return ctx.unsupportedAttr("reduction", red);
  SmallVector<Value> operands{*scores, *labels};
  if (*weights)
    operands.push_back(*weights);
  auto &bld = ctx.builder();
  SmallVector<NamedAttribute> attrs{
      ctx.named("reduction", LossReductionAttr::get(ctx.context(), *reduction))};
  if (ctx.hasAttr("ignore_index"))
    attrs.push_back(ctx.named("ignore_index",
                              bld.getI64IntegerAttr(ctx.attrInt("ignore_index", 0))));
  if (failed(ctx.setResult(ctx.create1<OpTy>(operands, attrs))))
    return failure();
  if (ctx.outputUsed(1)) {
    if (!std::is_same_v<OpTy, SoftmaxCrossEntropyOp>)
      return ctx.fail("NegativeLogLikelihoodLoss has one output");
    return ctx.setResult(ctx.create1<LogSoftmaxOp>(
                         *scores, {ctx.named("axis", bld.getI64IntegerAttr(1))}),
                     1);
  }
  return success();
}

/// The axes of an ONNX reduction (an input for ReduceSum and from opset 18,
/// an attribute before), normalized and sorted; nullopt for the identity
/// (noop_with_empty_axes with no axes).
FailureOr<std::optional<SmallVector<int64_t>>> reduceAxes(NodeContext &ctx, int64_t rank,
                                                          bool axesAsInput) {
  SmallVector<int64_t> axes;
  if (axesAsInput || ctx.opset >= 18) {
    if (ctx.hasInput(1)) {
      auto a = ctx.constInts(1, "axes");
      if (failed(a))
        return failure();
      axes = *a;
    }
  } else if (auto a = ctx.attrInts("axes")) {
    axes = *a;
  }
  if (axes.empty() && ctx.attrInt("noop_with_empty_axes", 0))
    return std::optional<SmallVector<int64_t>>();
  for (int64_t &a : axes) {
    auto n = ctx.normalizeAxis(a, rank, "reduction axis");
    if (failed(n))
      return failure();
    a = *n;
  }
  llvm::sort(axes);
  if (std::adjacent_find(axes.begin(), axes.end()) != axes.end())
    return ctx.fail("reduction axes repeat");
  return std::optional<SmallVector<int64_t>>(axes);
}

/// A reduction, optionally of a transformed input (`pre`) and with a
/// transformed result (`post`): ReduceL1 is the sum of |x|, ReduceL2 the
/// square root of the sum of squares, ReduceLogSumExp the log of the sum of
/// exponentials, as ONNX defines them.
template <typename OpTy>
Handler reduction(bool axesAsInput, std::function<Value(NodeContext &, Value)> pre = nullptr,
                  std::function<Value(NodeContext &, Value)> post = nullptr) {
  return [=](NodeContext &ctx) -> LogicalResult {
    auto x = ctx.input(0);
    if (failed(x))
      return failure();
    auto axes = reduceAxes(ctx, cast<RankedTensorType>(x->getType()).getRank(), axesAsInput);
    if (failed(axes))
      return failure();
    bool keepDims = ctx.attrInt("keepdims", 1) != 0;
    Value in = pre ? pre(ctx, *x) : *x;
    if (!in)
      return failure();
    if (!*axes) {
      ctx.setOutput(0, post ? post(ctx, in) : in);
      return success();
    }
    auto reduced = ctx.create1<OpTy>(in, {ctx.named("axes", ctx.i64Array(**axes)),
                                          ctx.named("keep_dims", ctx.builder().getBoolAttr(keepDims))});
    if (failed(reduced))
      return failure();
    Value out = post ? post(ctx, *reduced) : *reduced;
    if (!out)
      return failure();
    ctx.setOutput(0, out);
    return success();
  };
}

template <typename OpTy>
LogicalResult convertArgReduce(NodeContext &ctx) {
  auto x = ctx.input(0);
  if (failed(x))
    return failure();
  auto axis = ctx.normalizeAxis(ctx.attrInt("axis", 0),
                                cast<RankedTensorType>(x->getType()).getRank());
  if (failed(axis))
    return failure();
  auto &b = ctx.builder();
  return ctx.setResult(ctx.create1<OpTy>(
      *x, {ctx.named("axis", b.getI64IntegerAttr(*axis)),
           ctx.named("keep_dims", b.getBoolAttr(ctx.attrInt("keepdims", 1) != 0)),
           ctx.named("select_last_index", b.getBoolAttr(ctx.attrInt("select_last_index", 0) != 0))}));
}

Value square(NodeContext &ctx, Value v) {
  auto sq = ctx.create1<MulOp>(ValueRange{v, v});
  return succeeded(sq) ? *sq : Value();
}
} // namespace

void mlir::gpipe::import::registerNNHandlers(HandlerTable &t) {
  t["MatMul"] = convertMatMul;
  t["Gemm"] = convertGemm;
  t["Conv"] = convertConv;
  t["MaxPool"] = convertMaxPool;
  t["AveragePool"] = convertAvgPool;
  t["GlobalAveragePool"] = convertGlobalPool<GlobalAvgPoolOp>;
  t["GlobalMaxPool"] = convertGlobalPool<GlobalMaxPoolOp>;
  t["BatchNormalization"] = convertBatchNorm;
  t["LayerNormalization"] = convertLayerNorm;
  t["Softmax"] = convertSoftmax<SoftmaxOp>;
  t["LogSoftmax"] = convertSoftmax<LogSoftmaxOp>;
  t["Dropout"] = convertDropout;
  t["SoftmaxCrossEntropyLoss"] = convertClassLoss<SoftmaxCrossEntropyOp>;
  t["NegativeLogLikelihoodLoss"] = convertClassLoss<NllLossOp>;
  t["ReduceSum"] = reduction<ReduceSumOp>(/*axesAsInput=*/true);
  t["ReduceMean"] = reduction<ReduceMeanOp>(false);
  t["ReduceMax"] = reduction<ReduceMaxOp>(false);
  t["ReduceMin"] = reduction<ReduceMinOp>(false);
  t["ArgMax"] = convertArgReduce<ArgMaxOp>;
  t["ArgMin"] = convertArgReduce<ArgMinOp>;
  t["ReduceSumSquare"] = reduction<ReduceSumOp>(false, square);
  t["ReduceL1"] = reduction<ReduceSumOp>(
      false, [](NodeContext &ctx, Value v) { return ctx.createSameType<AbsOp>(v); });
  t["ReduceL2"] = reduction<ReduceSumOp>(
      false, square, [](NodeContext &ctx, Value v) { return ctx.createSameType<SqrtOp>(v); });
  t["ReduceLogSum"] = reduction<ReduceSumOp>(
      false, nullptr, [](NodeContext &ctx, Value v) { return ctx.createSameType<LogOp>(v); });
  t["ReduceLogSumExp"] = reduction<ReduceSumOp>(
      false, [](NodeContext &ctx, Value v) { return ctx.createSameType<ExpOp>(v); },
      [](NodeContext &ctx, Value v) { return ctx.createSameType<LogOp>(v); });
}
